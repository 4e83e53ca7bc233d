"""The router and tiers as real Ray Serve deployments (scripted engines), reached through NATS."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from loreweave.serve import (
    AIClient,
    CallContext,
    DeadlineExceeded,
    GenerateChunk,
    GenerateRequest,
    GenerateResult,
    Overloaded,
    RateLimited,
)
from tests.serve.conftest import AIApp

pytestmark = pytest.mark.slow


def ctx(world: str, timeout_s: float = 5.0) -> CallContext:
    return CallContext(world, time.time() + timeout_s, uuid.uuid4().hex)


def dialogue(**fields: object) -> GenerateRequest:
    return GenerateRequest(
        kind="dialogue", prompt="What news?", context={"player": "Ana", "npc": "Bram", "mood": "happy"},
        **fields,  # type: ignore[arg-type]
    )


async def test_router_answers_from_the_first_tier(ai_app: AIApp, world: str) -> None:
    result: GenerateResult = await ai_app.router.generate.remote(dialogue(), ctx(world))
    assert result.tier == "gold" and result.fallbacks == [] and result.text
    again: GenerateResult = await ai_app.router.generate.remote(dialogue(), ctx(world))
    assert again.text == result.text  # scripted lines are deterministic


async def test_a_raising_tier_falls_back_to_the_next(ai_app: AIApp) -> None:
    result: GenerateResult = await ai_app.router.generate.remote(dialogue(), ctx("broken-world"))
    assert result.tier == "bronze"
    assert result.fallbacks[0].startswith("broken: failed:") and "model server crashed" in result.fallbacks[0]


async def test_a_tier_over_its_budget_is_cancelled_in_its_replica(ai_app: AIApp) -> None:
    before = await ai_app.tiers["slow"].stats.remote()
    started = time.perf_counter()
    result: GenerateResult = await ai_app.router.generate.remote(dialogue(), ctx("slow-world"))
    assert result.tier == "bronze" and result.fallbacks[0].startswith("slow: over its latency budget (400 ms)")
    assert time.perf_counter() - started < 2.0
    await _eventually(lambda stats: stats.get("cancelled", 0) > before.get("cancelled", 0), ai_app.tiers["slow"])


async def test_the_callers_deadline_cancels_the_work(ai_app: AIApp, ai_client: AIClient) -> None:
    before = await ai_app.tiers["slow"].stats.remote()
    started = time.perf_counter()
    # The deadline (250 ms) comes before the tier's budget (400 ms): the slow tier is
    # cancelled at the deadline and the scripted line still makes it in time.
    result = await ai_client.generate("slow-world", dialogue(qos="full"), timeout=0.25)
    elapsed = time.perf_counter() - started
    assert elapsed < 0.6, elapsed
    assert result.tier in ("bronze", "scripted")
    await _eventually(lambda stats: stats.get("cancelled", 0) > before.get("cancelled", 0), ai_app.tiers["slow"])


async def test_stream_over_nats_sends_first_words_before_the_end(ai_app: AIApp, ai_client: AIClient, world: str) -> None:
    chunks: list[GenerateChunk] = []
    async with ai_client.stream(world, dialogue(), timeout=5) as answer:
        async for chunk in answer:
            chunks.append(chunk)
    assert answer.result is not None and answer.result.tier == "gold"
    assert len(chunks) > 2 and "".join(chunk.text for chunk in chunks) == answer.result.text
    assert [chunk.seq for chunk in chunks] == list(range(len(chunks)))


async def test_generate_over_nats_with_a_json_schema(ai_app: AIApp, ai_client: AIClient, world: str) -> None:
    schema = {
        "type": "object",
        "properties": {"mood": {"enum": ["calm", "angry"]}, "line": {"type": "string"}},
        "required": ["mood", "line"],
    }
    result = await ai_client.generate(world, dialogue(json_schema=schema), timeout=5)
    assert result.data["mood"] in ("calm", "angry") and result.data["line"]


async def test_per_world_caps_reply_rate_limited_and_spare_other_worlds(
    ai_app: AIApp, ai_client: AIClient, world: str
) -> None:
    for _ in range(3):
        await ai_client.generate("capped-world", dialogue(), timeout=5)
    with pytest.raises(RateLimited) as caught:
        await ai_client.generate("capped-world", dialogue(), timeout=5)
    assert caught.value.field == "world.requests_per_minute"
    assert (await ai_client.generate(world, dialogue(), timeout=5)).tier == "gold"
    # Counted where every router replica sees it (router.shared_caps).
    caps = await ai_client.bus.js.key_value("LW_AI_CAPS")
    assert (await caps.get("rate.w.capped-world")).value


async def test_load_is_shed_with_an_overloaded_reply(ai_app: AIApp, ai_client: AIClient) -> None:
    # 60 requests held by the slow tier (400 ms) against max_in_flight 24.
    outcomes = await asyncio.gather(
        *(ai_client.generate("slow-world", dialogue(), timeout=5) for _ in range(60)), return_exceptions=True
    )
    shed = [o for o in outcomes if isinstance(o, Overloaded)]
    answered = [o for o in outcomes if isinstance(o, GenerateResult)]
    assert shed and answered and len(shed) + len(answered) == 60, outcomes
    assert str(shed[0]).startswith("router: ")
    stats = await ai_app.router.stats.remote()
    assert stats["counters"]["shed"] >= len(shed) and stats["in_flight"] == 0


async def test_bad_requests_get_a_typed_error_reply(ai_app: AIApp, ai_client: AIClient, world: str) -> None:
    from loreweave.serve import BadRequest

    with pytest.raises(BadRequest) as caught:
        await ai_client.generate(world, dialogue(json_schema={"type": "array"}), timeout=5)
    assert caught.value.field == "json_schema"


async def test_scripted_qos_world_never_touches_a_model(ai_app: AIApp, ai_client: AIClient) -> None:
    result = await ai_client.generate("scripted-world", dialogue(), timeout=5)
    assert result.tier == "scripted" and result.text


async def test_an_expired_deadline_is_refused_before_routing(ai_app: AIApp) -> None:
    with pytest.raises(DeadlineExceeded):
        await ai_app.router.generate.remote(dialogue(), CallContext("w", time.time() - 1, "x"))


async def _eventually(check: object, handle: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        stats = await handle.stats.remote()  # type: ignore[attr-defined]
        if check(stats):  # type: ignore[operator]
            return
        assert time.monotonic() < deadline, f"not reached: {stats}"
        await asyncio.sleep(0.05)


async def test_tier_calls_made_together_travel_in_one_serve_call(ai_app: AIApp) -> None:
    from loreweave.serve.deployments import ServeTierClient
    from loreweave.serve.engines import EngineRequest, ScriptedEngine
    from loreweave.serve.messages import TierCall
    from loreweave.serve.tiers import Sampling

    client = ServeTierClient(ai_app.tiers["gold"], batch_calls=32)
    before = await ai_app.tiers["gold"].stats.remote()
    deadline = time.time() + 5
    calls = [TierCall(uuid.uuid4().hex, "dialogue", f"hello {i}", {"player": f"P{i}"}, deadline=deadline)
             for i in range(6)]
    completions = await asyncio.gather(*(client.generate(call) for call in calls))
    alone = await client.generate(calls[3])
    assert completions[3].text == alone.text and all(c.text for c in completions)
    engine = ScriptedEngine()  # what the scripted tier answers each call alone, in this process
    expected = [(await engine.generate(EngineRequest(c.request_id, c.kind, c.prompt, Sampling(), c.context))).text
                for c in calls]
    assert [c.text for c in completions] == expected  # each answered for its own prompt, in order
    assert client.batcher.stats()["sends"] == 2 and client.batcher.stats()["calls"] == 7
    after = await ai_app.tiers["gold"].stats.remote()
    assert after.get("batches", 0) == before.get("batches", 0) + 1
    assert after["completed"] - before.get("completed", 0) == 7
