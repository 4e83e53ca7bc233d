"""The persistent actors' pull feed: frames are handed over as they arrive, not when a batch is full."""

from __future__ import annotations

import asyncio

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from loreweave.actors.runtime import EVENTS_STREAM, Bus
from loreweave.actors.runtime.pull import PullFeed
from loreweave.schemas import PlayerMoved


async def consumer_of(bus: Bus, world: str) -> str:
    name = f"pull-test-{world}"
    await bus.js.add_consumer(EVENTS_STREAM, ConsumerConfig(
        durable_name=name, ack_policy=AckPolicy.ALL, filter_subject=f"lw.{world}.>", deliver_policy=DeliverPolicy.NEW,
    ))
    return name


async def test_an_idle_feed_hands_over_a_frame_as_soon_as_it_arrives(bus: Bus, world: str) -> None:
    feed = await PullFeed(bus.nc, EVENTS_STREAM, await consumer_of(bus, world), batch=256).start()
    try:
        assert await feed.fetch(256, timeout=0.05) == []
        waiting = asyncio.create_task(feed.fetch(256, timeout=60))
        await bus.emit(PlayerMoved(player_id="ann", region="ford"), world, source="test", durable=True)
        # nats-py's fetch(256, timeout=60) would hold this one frame for 60 s, waiting for 255 more.
        msgs = await asyncio.wait_for(waiting, 10)
        assert [(m.subject, m.metadata.sequence.consumer) for m in msgs] == [(f"lw.{world}.player.moved", 1)]
    finally:
        await feed.unsubscribe()


async def test_the_feed_asks_again_once_its_requests_expired_and_keeps_the_order(bus: Bus, world: str) -> None:
    feed = await PullFeed(bus.nc, EVENTS_STREAM, await consumer_of(bus, world), batch=4, expires_s=0.2).start()
    try:
        assert await feed.fetch(4, timeout=0.5) == []  # the first requests expire on the server meanwhile
        for region in "abcdefghij":
            await bus.emit(PlayerMoved(player_id="ann", region=region), world, source="test", durable=True)
        seen: list[int] = []
        while len(seen) < 10:
            msgs = await feed.fetch(4, timeout=10)
            assert msgs and len(msgs) <= 4
            seen += [m.metadata.sequence.consumer for m in msgs]
            await msgs[-1].ack()
        assert seen == list(range(1, 11))
    finally:
        await feed.unsubscribe()
