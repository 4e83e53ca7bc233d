"""The router's decisions with in-process fake tiers (fast; the Ray tests cover the real path)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import AsyncIterator

import pytest

from loreweave.serve.engines import Completion, Delta
from loreweave.serve.errors import DeadlineExceeded, Overloaded, QuotaExceeded, RateLimited
from loreweave.serve.limits import Quotas
from loreweave.serve.messages import CallContext, GenerateChunk, GenerateRequest, GenerateResult, TierCall
from loreweave.serve.router import Router
from loreweave.serve.tiers import WorldSettings, parse_serve_config


class FakeTier:
    """A tier that answers, fails, or takes ``delay_s`` per word; it records cancellations."""

    def __init__(self, name: str, *, fail: bool = False, delay_s: float = 0.0, words: int = 3) -> None:
        self.name, self.fail, self.delay_s, self.words = name, fail, delay_s, words
        self.calls = 0
        self.cancelled = 0

    async def generate(self, call: TierCall) -> Completion:
        self.calls += 1
        try:
            await asyncio.sleep(self.delay_s)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self.fail:
            raise RuntimeError(f"{self.name} crashed")
        return Completion(f"line from {self.name}", "stop", 2, 3)

    async def stream(self, call: TierCall) -> AsyncIterator[Delta]:
        self.calls += 1
        if self.fail:
            raise RuntimeError(f"{self.name} crashed")
        try:
            for index in range(self.words):
                await asyncio.sleep(self.delay_s)
                yield Delta(f"{self.name}{index} ", index + 1, 2, "stop" if index == self.words - 1 else None)
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise


def make_router(tiers: dict[str, FakeTier], **router: object) -> Router:
    config = parse_serve_config(
        {
            "tiers": {
                name: {"latency_budget_ms": 200, "first_token_ms": 100, "max_ongoing_requests": 4,
                       "max_queued_requests": 0}
                for name in tiers
            },
            "router": {
                "routes": {"dialogue": ["gold", "bronze"], "narrative": ["bronze"], "background": ["bronze"]},
                **router,
            },
        }
    )
    return Router(config.router, config.tiers, tiers)


def ctx(world: str = "w1", timeout_s: float = 2.0) -> CallContext:
    return CallContext(world, time.time() + timeout_s, uuid.uuid4().hex)


def ask(**fields: object) -> GenerateRequest:
    return GenerateRequest(kind="dialogue", prompt="hello", **fields)  # type: ignore[arg-type]


async def test_the_first_tier_of_the_route_answers() -> None:
    router = make_router({"gold": FakeTier("gold"), "bronze": FakeTier("bronze")})
    result = await router.generate(ask(), ctx())
    assert (result.tier, result.text, result.fallbacks) == ("gold", "line from gold", [])


async def test_a_failing_tier_falls_back_and_its_circuit_opens() -> None:
    gold = FakeTier("gold", fail=True)
    router = make_router({"gold": gold, "bronze": FakeTier("bronze")}, failure_threshold=2, cooldown_s=60)
    for _ in range(2):
        result = await router.generate(ask(), ctx())
        assert result.tier == "bronze" and "gold: failed: RuntimeError: gold crashed" in result.fallbacks
    result = await router.generate(ask(), ctx())
    assert result.fallbacks == ["gold: circuit open after repeated failures"]
    assert gold.calls == 2


async def test_a_tier_over_its_latency_budget_is_cancelled_and_the_next_answers() -> None:
    gold = FakeTier("gold", delay_s=5)
    router = make_router({"gold": gold, "bronze": FakeTier("bronze")})
    started = time.perf_counter()
    result = await router.generate(ask(), ctx())
    assert result.tier == "bronze" and result.fallbacks[0].startswith("gold: over its latency budget")
    assert time.perf_counter() - started < 1.0
    assert gold.cancelled == 1


async def test_every_tier_down_still_gets_a_scripted_line() -> None:
    router = make_router({"gold": FakeTier("gold", fail=True), "bronze": FakeTier("bronze", fail=True)})
    result = await router.generate(ask(context={"player": "Ana"}), ctx())
    assert result.tier == "scripted" and result.text
    assert len(result.fallbacks) == 2


async def test_qos_reduced_and_scripted_cut_the_route() -> None:
    gold, bronze = FakeTier("gold"), FakeTier("bronze")
    router = make_router(
        {"gold": gold, "bronze": bronze},
        worlds={"default": {}, "poor": {"qos": "reduced"}, "offline": {"qos": "scripted"}},
    )
    assert (await router.generate(ask(), ctx("poor"))).tier == "bronze"
    assert (await router.generate(ask(), ctx("offline"))).tier == "scripted"
    # A request may lower its world's qos, never raise it.
    assert (await router.generate(ask(qos="reduced"), ctx("w1"))).tier == "bronze"
    assert (await router.generate(ask(qos="full"), ctx("offline"))).tier == "scripted"
    assert gold.calls == 0


async def test_a_saturated_tier_is_skipped() -> None:
    gold = FakeTier("gold", delay_s=0.15)
    router = make_router({"gold": gold, "bronze": FakeTier("bronze")})
    results = await asyncio.gather(*(router.generate(ask(), ctx()) for _ in range(6)))
    tiers = [result.tier for result in results]
    assert tiers.count("gold") == 4  # max_ongoing_requests 4 x 1 replica, no queue
    assert any("gold: saturated" in fallback for result in results for fallback in result.fallbacks)


async def test_load_is_shed_with_overloaded_beyond_max_in_flight() -> None:
    router = make_router({"gold": FakeTier("gold", delay_s=0.1), "bronze": FakeTier("bronze")}, max_in_flight=3)
    outcomes = await asyncio.gather(*(router.generate(ask(), ctx()) for _ in range(8)), return_exceptions=True)
    shed = [o for o in outcomes if isinstance(o, Overloaded)]
    assert len(shed) == 5 and all(isinstance(o, GenerateResult) for o in outcomes if o not in shed)
    assert str(shed[0]).startswith("router: 3 requests in flight")


async def test_rate_and_token_caps_per_world_and_player() -> None:
    router = make_router(
        {"gold": FakeTier("gold"), "bronze": FakeTier("bronze")},
        worlds={"default": {"requests_per_minute": 2, "player_tokens_per_day": 100}},
    )
    await router.generate(ask(), ctx("busy"))
    await router.generate(ask(), ctx("busy"))
    with pytest.raises(RateLimited, match="world.requests_per_minute"):
        await router.generate(ask(), ctx("busy"))
    assert (await router.generate(ask(), ctx("quiet"))).tier == "gold"  # another world is not starved
    with pytest.raises(QuotaExceeded, match="player.tokens_per_day"):
        await router.generate(ask(player_id="p1", max_tokens=150), ctx("rich"))


async def test_token_quota_counts_real_usage_and_resets_each_day() -> None:
    now = [1_000_000.0]
    quotas = Quotas(clock=lambda: now[0])
    settings = WorldSettings(tokens_per_day=100)
    reservation = await quotas.admit("w", None, settings, 80)
    await quotas.settle(reservation, 10)
    assert quotas.used_today("w") == 10
    await quotas.admit("w", None, settings, 90)
    with pytest.raises(QuotaExceeded):
        await quotas.admit("w", None, settings, 1)
    now[0] += 86_400
    await quotas.admit("w", None, settings, 100)


async def test_stream_sends_first_words_before_the_line_is_finished() -> None:
    router = make_router({"gold": FakeTier("gold", delay_s=0.05, words=4), "bronze": FakeTier("bronze")})
    started = time.perf_counter()
    seen: list[tuple[float, object]] = []
    async for item in router.stream(ask(), ctx()):
        seen.append((time.perf_counter() - started, item))
    chunks = [item for _, item in seen if isinstance(item, GenerateChunk)]
    result = seen[-1][1]
    assert isinstance(result, GenerateResult) and result.text == "gold0 gold1 gold2 gold3 "
    assert [chunk.text for chunk in chunks] == ["gold0 ", "gold1 ", "gold2 ", "gold3 "]
    assert seen[0][0] < seen[-1][0] - 0.1  # the first chunk came well before the end


async def test_stream_falls_back_when_the_first_token_is_late() -> None:
    gold = FakeTier("gold", delay_s=1.0)
    router = make_router({"gold": gold, "bronze": FakeTier("bronze")})
    items = [item async for item in router.stream(ask(), ctx())]
    assert isinstance(items[-1], GenerateResult) and items[-1].tier == "bronze"
    assert items[-1].fallbacks[0].startswith("gold: first token over budget")
    assert gold.cancelled == 1


async def test_stream_deadline_mid_line_cancels_the_tier() -> None:
    gold = FakeTier("gold", delay_s=0.09, words=20)
    router = make_router({"gold": gold, "bronze": FakeTier("bronze")})
    received = []
    with pytest.raises(DeadlineExceeded):
        async for item in router.stream(ask(), ctx(timeout_s=0.4)):
            received.append(item)
    assert 1 <= len(received) < 20
    assert gold.cancelled == 1
    assert router.in_flight == 0


async def test_structured_output_from_the_scripted_fallback_matches_the_schema() -> None:
    router = make_router({"gold": FakeTier("gold", fail=True), "bronze": FakeTier("bronze", fail=True)})
    schema = {
        "type": "object",
        "properties": {"mood": {"enum": ["calm", "angry"]}, "line": {"type": "string", "maxLength": 80}},
        "required": ["mood", "line"],
    }
    result = await router.generate(ask(json_schema=schema), ctx())
    assert result.data["mood"] in ("calm", "angry") and isinstance(result.data["line"], str)


async def test_a_short_caller_deadline_does_not_count_against_the_tier() -> None:
    gold = FakeTier("gold", delay_s=5)
    router = make_router({"gold": gold, "bronze": FakeTier("bronze")}, failure_threshold=1, cooldown_s=60)
    result = await router.generate(ask(), ctx(timeout_s=0.1))  # 100 ms < gold's 200 ms budget
    assert result.tier == "bronze" and result.fallbacks[0].startswith("gold: cut short by the caller's deadline")
    assert gold.cancelled == 1
    assert not router.health["gold"].is_open(time.time())
    late = await router.generate(ask(), ctx())
    assert late.fallbacks[0] == "gold: over its latency budget (200 ms)"
    assert router.health["gold"].is_open(time.time())
