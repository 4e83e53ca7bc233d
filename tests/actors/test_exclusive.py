"""Exclusive actors over a real NATS and PostgreSQL: one active instance per actor across nodes,
consistent answers, timers once, failover with the state saved, fenced commits."""

from __future__ import annotations

import asyncio
from typing import Any

from loreweave.actors.clock import Clock
from loreweave.actors.runtime import ActorNode, Bus, frame_for
from loreweave.actors.runtime.exclusive import ExclusiveSettings
from loreweave.actors.world import World
from loreweave.schemas import ClockGetTime, RegionSpec, WorldFlagSet, WorldOpened, WorldQuery

from .conftest import eventually

SETTINGS = ExclusiveSettings(lease_ttl=1, snapshot_every_s=0.2)


async def exclusive_node(url: str, database: Any, bucket: str, *actors: Any) -> ActorNode:
    bus = await Bus.connect(url, name="exclusive-node")
    node = ActorNode(bus, actors, database=database,
                     exclusive=ExclusiveSettings(lease_ttl=1, snapshot_every_s=0.2, bucket=bucket))
    await node.start()
    return node


def opened() -> WorldOpened:
    return WorldOpened(title="Reach", regions=[RegionSpec(id="ford", name="Ford", biome="plains")])


async def flag_of(bus: Bus, world: str, flag: str) -> Any:
    reply = await bus.request(frame_for(WorldQuery(kind="flag", id=flag), world, "test"), 3)
    return reply.payload.value if reply.payload.found else None


async def test_two_nodes_answer_as_one_and_the_standby_takes_over_with_the_state(
    nats_server_url, bus, world, database
) -> None:
    bucket = f"LW_ACTORS_{world.upper()}"
    first = await exclusive_node(nats_server_url, database, bucket, World(), Clock(speed=600, tick_minutes=10))
    second = await exclusive_node(nats_server_url, database, bucket, World(), Clock(speed=600, tick_minutes=10))
    nodes = [first, second]
    try:
        running = [n for n in nodes if n.exclusivity and n.exclusivity.tokens]
        assert running == [first], "the first node should run both actors, the second stand by"
        assert set(first.exclusivity.tokens) == {"world", "clock"} and not second.exclusivity.tokens

        await bus.publish(frame_for(opened(), world, "test"), durable=True)
        for index in range(100):
            await bus.publish(frame_for(WorldFlagSet(flag=f"f{index}", value=index), world, "test"), durable=True)
        await eventually(lambda: _equals(flag_of(bus, world, "f99"), 99), timeout=10)
        answers = [await flag_of(bus, world, f"f{index}") for index in range(100)]
        assert answers == list(range(100)), "a standby answered, or the flags were split between nodes"

        # Ticks come once: the time only moves forward, from one clock.
        times = [(await bus.request(frame_for(ClockGetTime(), world, "test"), 3)).payload.game_minutes
                 for _ in range(10)]
        assert times == sorted(times)

        # The state is saved; then the active node dies without a word (its connection just closes).
        await eventually(lambda: _saved(database, "world"), timeout=5)
        await first.bus.nc.close()
        loop = asyncio.get_running_loop()
        died = loop.time()
        await eventually(lambda: {"world", "clock"} <= set(second.exclusivity.tokens), timeout=10)
        took_over = loop.time() - died
        assert took_over < 5, f"failover took {took_over:.1f}s"
        assert [await flag_of(bus, world, f"f{index}") for index in range(100)] == list(range(100))
        await bus.request(frame_for(ClockGetTime(), world, "test"), 3)
    finally:
        for node in nodes:
            try:
                await node.stop()
            except Exception:
                pass


async def test_a_graceful_stop_hands_the_actors_over_at_once(nats_server_url, bus, world, database) -> None:
    bucket = f"LW_ACTORS_{world.upper()}"
    first = await exclusive_node(nats_server_url, database, bucket, World())
    second = await exclusive_node(nats_server_url, database, bucket, World())
    try:
        await bus.publish(frame_for(opened(), world, "test"), durable=True)
        await bus.publish(frame_for(WorldFlagSet(flag="bridge", value="repaired"), world, "test"), durable=True)
        await eventually(lambda: _equals(flag_of(bus, world, "bridge"), "repaired"), timeout=10)
        await first.stop()  # drains, saves, releases: no TTL to wait for
        await eventually(lambda: "world" in second.exclusivity.tokens, timeout=3)
        assert await flag_of(bus, world, "bridge") == "repaired"
    finally:
        await second.stop()


async def _equals(pending: Any, expected: Any) -> bool:
    try:
        return await pending == expected
    except Exception:
        return False


async def _saved(database: Any, actor: str) -> bool:
    return await database.state.load_snapshot(actor) is not None
