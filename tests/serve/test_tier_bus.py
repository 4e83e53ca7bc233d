"""Tiers in their own services: the router reaches them over a real NATS server.

The tiers' models are the router tests' fakes (answering, failing or slow on purpose); the
bus, the endpoints and the router are the real ones. The Ray path is in test_serve_split.py.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

import pytest

from loreweave.actors.runtime import Bus
from loreweave.protocol import SubjectError
from loreweave.serve import BusTierClient, TierEndpoint, TierSubjects
from loreweave.serve.messages import GenerateChunk, GenerateResult
from loreweave.serve.router import Router

from .test_router_unit import FakeTier, ask, ctx, make_router
from tests.actors.conftest import eventually


@pytest.fixture
async def buses(nats_server_url: str) -> AsyncIterator[tuple[Bus, Bus]]:
    """The router's connection and the tiers' connection (as two services would hold them)."""
    router_bus = await Bus.connect(nats_server_url, name="test-router")
    tier_bus = await Bus.connect(nats_server_url, name="test-tiers")
    yield router_bus, tier_bus
    await router_bus.close()
    await tier_bus.close()


async def serve_tiers(bus: Bus, tiers: dict[str, FakeTier], **options: int) -> list[TierEndpoint]:
    endpoints = [TierEndpoint(bus, name, tier, **options) for name, tier in tiers.items()]
    for endpoint in endpoints:
        await endpoint.start()
    return endpoints


def router_over(bus: Bus, names: list[str], **router: object) -> Router:
    """The unit tests' router, its tiers reached over the bus."""
    local = make_router({name: FakeTier(name) for name in names}, **router)
    return Router(local.config, local.tiers, {name: BusTierClient(bus, name) for name in names})


def test_tier_subjects_are_named_after_the_tier() -> None:
    subjects = TierSubjects.of("gold")
    assert (subjects.generate, subjects.stream, subjects.cancel, subjects.queue) == (
        "lw.ai.tier.gold.generate", "lw.ai.tier.gold.stream", "lw.ai.tier.gold.cancel", "lw-tier-gold"
    )
    with pytest.raises(SubjectError, match="tier"):
        TierSubjects.of("gold.*")


async def test_the_router_gets_its_answer_from_a_tier_service(buses) -> None:
    router_bus, tier_bus = buses
    gold = FakeTier("gold")
    endpoints = await serve_tiers(tier_bus, {"gold": gold, "bronze": FakeTier("bronze")})
    result = await router_over(router_bus, ["gold", "bronze"]).generate(ask(), ctx())
    assert (result.tier, result.text, result.completion_tokens, result.fallbacks) == ("gold", "line from gold", 3, [])
    assert gold.calls == 1 and endpoints[0].stats()["counters"]["answered"] == 1


async def test_a_stream_comes_over_the_bus_in_pieces(buses) -> None:
    router_bus, tier_bus = buses
    await serve_tiers(tier_bus, {"gold": FakeTier("gold", delay_s=0.01, words=4), "bronze": FakeTier("bronze")})
    items = [item async for item in router_over(router_bus, ["gold", "bronze"]).stream(ask(), ctx())]
    chunks = [item for item in items if isinstance(item, GenerateChunk)]
    assert [chunk.text for chunk in chunks] == ["gold0 ", "gold1 ", "gold2 ", "gold3 "]
    assert isinstance(items[-1], GenerateResult) and items[-1].text == "gold0 gold1 gold2 gold3 "


async def test_a_tier_service_that_is_down_falls_back_at_once(buses) -> None:
    router_bus, tier_bus = buses
    await serve_tiers(tier_bus, {"bronze": FakeTier("bronze")})  # no gold service runs
    router = router_over(router_bus, ["gold", "bronze"])
    result = await router.generate(ask(), ctx())
    assert result.tier == "bronze" and "nobody answers on lw.ai.tier.gold.generate" in result.fallbacks[0]
    items = [item async for item in router.stream(ask(), ctx())]
    assert items[-1].tier == "bronze" and "nobody answers on lw.ai.tier.gold.stream" in items[-1].fallbacks[0]


async def test_a_failing_tier_service_falls_back_with_its_reason(buses) -> None:
    router_bus, tier_bus = buses
    await serve_tiers(tier_bus, {"gold": FakeTier("gold", fail=True), "bronze": FakeTier("bronze")})
    result = await router_over(router_bus, ["gold", "bronze"]).generate(ask(), ctx())
    assert result.tier == "bronze" and "gold crashed" in result.fallbacks[0]


async def test_a_late_tier_is_cancelled_in_its_service(buses) -> None:
    router_bus, tier_bus = buses
    gold = FakeTier("gold", delay_s=5)
    await serve_tiers(tier_bus, {"gold": gold, "bronze": FakeTier("bronze")})
    router = router_over(router_bus, ["gold", "bronze"])
    result = await router.generate(ask(), ctx())
    assert result.tier == "bronze" and "over its latency budget" in result.fallbacks[0]
    await eventually(lambda: gold.cancelled == 1, timeout=0.5)  # long before the 2 s deadline

    items = [item async for item in router.stream(ask(), ctx())]  # the first token is late: cancelled too
    assert items[-1].tier == "bronze" and "first token over budget" in items[-1].fallbacks[0]
    await eventually(lambda: gold.cancelled == 2, timeout=0.5)


async def test_a_full_tier_service_counts_as_saturated_not_failed(buses) -> None:
    router_bus, tier_bus = buses
    gold = FakeTier("gold", delay_s=0.15)
    await serve_tiers(tier_bus, {"gold": gold, "bronze": FakeTier("bronze")}, max_in_flight=1)
    router = router_over(router_bus, ["gold", "bronze"])
    first, second = await asyncio.gather(router.generate(ask(), ctx()), router.generate(ask(), ctx()))
    assert sorted([first.tier, second.tier]) == ["bronze", "gold"]
    assert any("saturated (queue full)" in reason for reason in first.fallbacks + second.fallbacks)
    assert router.health["gold"].failures == 0


async def test_tier_services_in_one_queue_group_share_the_calls(buses, nats_server_url: str) -> None:
    router_bus, tier_bus = buses
    other_bus = await Bus.connect(nats_server_url, name="test-tiers-2")
    try:
        first, second = FakeTier("gold", delay_s=0.01), FakeTier("gold", delay_s=0.01)
        await serve_tiers(tier_bus, {"gold": first, "bronze": FakeTier("bronze")})
        await serve_tiers(other_bus, {"gold": second})
        router = router_over(router_bus, ["gold", "bronze"])
        results = []
        for _ in range(10):  # four at a time: the router's capacity for gold in make_router
            results += await asyncio.gather(*(router.generate(ask(), ctx()) for _ in range(4)))
        assert {result.tier for result in results} == {"gold"}
        assert first.calls + second.calls == 40 and first.calls > 0 and second.calls > 0
    finally:
        await other_bus.close()
