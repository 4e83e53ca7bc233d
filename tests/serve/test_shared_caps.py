"""Caps shared by router replicas through a NATS key-value bucket, on a real NATS server."""

from __future__ import annotations

import asyncio
import uuid
from typing import AsyncIterator

import pytest

from loreweave.actors.runtime import Bus
from loreweave.serve import Overloaded, QuotaExceeded, RateLimited, Router, WorldSettings
from loreweave.serve.shared_limits import SharedQuotas

from .test_router_unit import FakeTier, ask, ctx, make_router

NOW = 1_800_000_000.0


@pytest.fixture
async def replicas(nats_server_url: str) -> AsyncIterator[tuple[SharedQuotas, SharedQuotas]]:
    """Two stores on one fresh bucket, each on its own connection, as two router replicas hold them."""
    bucket = f"LW_TEST_CAPS_{uuid.uuid4().hex[:8]}"
    buses = [await Bus.connect(nats_server_url, name=f"test-replica-{n}") for n in range(2)]
    stores = [await SharedQuotas.open(bus.js, bucket) for bus in buses]
    for store in stores:
        store._clock = lambda: NOW  # no refill while the test runs
    yield stores[0], stores[1]
    await buses[0].js.delete_key_value(bucket)
    for bus in buses:
        await bus.close()


def router_on(store: SharedQuotas, **world: int) -> Router:
    local = make_router({"gold": FakeTier("gold"), "bronze": FakeTier("bronze")}, worlds={"default": world})
    return Router(local.config, local.tiers, local.clients, quotas=store)


async def test_two_routers_share_one_world_budget(replicas) -> None:
    first, second = (router_on(store, requests_per_minute=3) for store in replicas)
    await first.generate(ask(), ctx("busy"))
    await second.generate(ask(), ctx("busy"))
    await first.generate(ask(), ctx("busy"))
    for router in (first, second):
        with pytest.raises(RateLimited, match="world.requests_per_minute"):
            await router.generate(ask(), ctx("busy"))
    assert (await second.generate(ask(), ctx("quiet"))).tier == "gold"  # another world is not starved


async def test_concurrent_replicas_admit_exactly_the_cap(replicas) -> None:
    settings = WorldSettings(requests_per_minute=10)
    attempts = [replicas[n % 2].admit("race", None, settings, 1) for n in range(30)]
    outcomes = await asyncio.gather(*attempts, return_exceptions=True)
    admitted = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(admitted) == 10
    assert all(isinstance(o, (RateLimited, Overloaded)) for o in outcomes if isinstance(o, BaseException))
    assert sum(isinstance(o, RateLimited) for o in outcomes) >= 15


async def test_daily_tokens_count_what_was_used_across_replicas(replicas) -> None:
    first, second = replicas
    settings = WorldSettings(tokens_per_day=100, player_tokens_per_day=60)
    reservation = await first.admit("w", "p1", settings, 50)
    assert await second.used_today("w") == 50 and await second.used_today("w", "p1") == 50
    await first.settle(reservation, 20)
    await first.settle(reservation, 20)  # settling twice changes nothing
    assert await second.used_today("w") == 20 and await second.used_today("w", "p1") == 20
    with pytest.raises(QuotaExceeded, match="player.tokens_per_day"):
        await second.admit("w", "p1", settings, 41)
    assert await first.used_today("w") == 20, "the world's reservation was given back"
    await second.admit("w", "p2", settings, 60)
    with pytest.raises(QuotaExceeded, match="world.tokens_per_day"):
        await first.admit("w", "p3", settings, 21)


async def test_a_refused_request_gives_back_what_it_took(replicas) -> None:
    first, second = replicas
    settings = WorldSettings(requests_per_minute=2, player_requests_per_minute=1)
    await first.admit("w", "p1", settings, 1)
    with pytest.raises(RateLimited, match="player.requests_per_minute"):
        await second.admit("w", "p1", settings, 1)  # took the world's second token, then gave it back
    await second.admit("w", "p2", settings, 1)
    with pytest.raises(RateLimited, match="world.requests_per_minute"):
        await first.admit("w", "p3", settings, 1)
