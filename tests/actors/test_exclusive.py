"""Placement over a real NATS and PostgreSQL, nodes in one process: world-placed actors run each
world on one node (answers consistent, timers once), worlds move with their state when a node
dies or stops, and a node that joins takes its share; actors placed by actor run on one node."""

from __future__ import annotations

import asyncio
from typing import Any

from loreweave.actors.clock import Clock
from loreweave.actors.journal import Journal
from loreweave.actors.registry import Registry
from loreweave.actors.runtime import ActorNode, Bus, RequestError, frame_for
from loreweave.actors.runtime.exclusive import ExclusiveSettings
from loreweave.actors.runtime.placement import DEFAULT_PARTITIONS, partition_of
from loreweave.actors.world import World
from loreweave.schemas import ClockGetTime, RegionSpec, WorldFlagSet, WorldOpened, WorldQuery

from loreweave.testing.placement import settled, spread_worlds

from .conftest import counter_value, eventually

PARTITIONS = DEFAULT_PARTITIONS  # the events stream is the server's: every node on it must agree


def settings_for(world: str) -> ExclusiveSettings:
    """Buckets of this test alone (the NATS server is shared by the whole session)."""
    tag = world.upper()
    return ExclusiveSettings(
        lease_ttl=1, snapshot_every_s=0.2, bucket=f"LW_ACTORS_{tag}", partitions=PARTITIONS,
        world_bucket=f"LW_PLACEMENT_{tag}", node_bucket=f"LW_NODES_{tag}",
    )


async def placed_node(url: str, database: Any, world: str, *actors: Any) -> ActorNode:
    bus = await Bus.connect(url, name="placed-node")
    node = ActorNode(bus, actors, database=database, exclusive=settings_for(world), drain_timeout_s=5)
    await node.start()
    return node


def opened() -> WorldOpened:
    return WorldOpened(title="Reach", regions=[RegionSpec(id="ford", name="Ford", biome="plains")])


async def flag_of(bus: Bus, world: str, flag: str) -> Any:
    reply = await bus.request(frame_for(WorldQuery(kind="flag", id=flag), world, "test"), 3)
    return reply.payload.value if reply.payload.found else None


async def flags_of(bus: Bus, world: str, count: int) -> list[Any]:
    return [await flag_of(bus, world, f"f{index}") for index in range(count)]


def owner(nodes: list[ActorNode], world: str) -> ActorNode | None:
    owning = [n for n in nodes if n.worlds is not None and world in n.worlds.owned_worlds()]
    assert len(owning) <= 1, f"{world} runs on {len(owning)} nodes"
    return owning[0] if owning else None


async def stop_all(nodes: list[ActorNode]) -> None:
    for node in nodes:
        try:
            await node.stop()
        except Exception:
            pass


async def test_two_nodes_share_the_worlds_answer_as_one_and_a_dead_nodes_worlds_move_with_their_state(
    nats_server_url, bus, world, database
) -> None:
    worlds = spread_worlds(world, 6)
    first = await placed_node(nats_server_url, database, world, World(), Clock(speed=600, tick_minutes=10))
    second = await placed_node(nats_server_url, database, world, World(), Clock(speed=600, tick_minutes=10))
    nodes = [first, second]
    try:
        await eventually(lambda: all(len(n.worlds.placement.owned) == PARTITIONS // 2 for n in nodes), timeout=10,
                         message="each node owns half the partitions")
        for name in worlds:
            await bus.publish(frame_for(opened(), name, "test"), durable=True)
            for index in range(100):
                await bus.publish(frame_for(WorldFlagSet(flag=f"f{index}", value=index), name, "test"), durable=True)
        for name in worlds:
            await eventually(lambda: _equals(flag_of(bus, name, "f99"), 99), timeout=10)
            assert await flags_of(bus, name, 100) == list(range(100)), f"{name}: flags split or lost"
        # Worlds hash unevenly into partitions: the nodes may move a few to even out the worlds.
        owners = await settled(lambda: _settled(nodes, worlds))
        assert set(owners.values()) == {first, second}, "both nodes should run some of the worlds"

        # Ticks come once per world: its time only moves forward, from one clock.
        for name in worlds:
            times = [(await bus.request(frame_for(ClockGetTime(), name, "test"), 3)).payload.game_minutes
                     for _ in range(5)]
            assert times == sorted(times)

        # The first node dies without a word (its connection just closes) right after more flags.
        moved = [name for name in worlds if owners[name] is first]
        for name in moved:
            await bus.publish(frame_for(WorldFlagSet(flag="late", value="kept"), name, "test"), durable=True)
        for name in moved:
            await eventually(lambda: _equals(flag_of(bus, name, "late"), "kept"), timeout=10)
        first.worlds.placement.pause()  # no hand-over: as if the process froze, then its bus closed
        await first.bus.nc.close()
        loop = asyncio.get_running_loop()
        died = loop.time()
        await eventually(lambda: all(owner([second], name) is second for name in moved), timeout=10,
                         message="the dead node's worlds run on the survivor")
        assert loop.time() - died < 5, f"failover took {loop.time() - died:.1f}s"
        for name in moved:
            assert await flags_of(bus, name, 100) == list(range(100)), f"{name} lost flags in the move"
            assert await flag_of(bus, name, "late") == "kept", f"{name} lost the frame after its last snapshot"
            await bus.request(frame_for(ClockGetTime(), name, "test"), 3)
    finally:
        await stop_all(nodes)


async def test_a_graceful_stop_hands_the_worlds_over_and_a_joining_node_takes_its_share(
    nats_server_url, bus, world, database
) -> None:
    worlds = spread_worlds(world, 8)
    first = await placed_node(nats_server_url, database, world, World())
    try:
        assert len(first.worlds.placement.owned) == PARTITIONS, "a lone node owns every partition"
        for name in worlds:
            await bus.publish(frame_for(opened(), name, "test"), durable=True)
            await bus.publish(frame_for(WorldFlagSet(flag="bridge", value="repaired"), name, "test"), durable=True)
        for name in worlds:
            await eventually(lambda: _equals(flag_of(bus, name, "bridge"), "repaired"), timeout=10)

        second = await placed_node(nats_server_url, database, world, World())
        third = await placed_node(nats_server_url, database, world, World())
        nodes = [first, second, third]
        await eventually(lambda: sorted(len(n.worlds.placement.owned) for n in nodes) == [21, 21, 22], timeout=10,
                         message="three nodes share 64 partitions 21/21/22")
        for name in worlds:
            assert await flag_of(bus, name, "bridge") == "repaired", f"{name} lost its state in the hand-over"
        await first.stop()  # drains, saves, releases: no TTL to wait for
        await eventually(lambda: sorted(len(n.worlds.placement.owned) for n in nodes[1:]) == [32, 32], timeout=5)
        for name in worlds:
            assert await flag_of(bus, name, "bridge") == "repaired"
    finally:
        await stop_all([first, *locals().get("nodes", [])[1:]])


async def test_actors_placed_by_actor_run_on_one_node(nats_server_url, bus, world, database) -> None:
    first = await placed_node(nats_server_url, database, world, Registry(), Journal())
    second = await placed_node(nats_server_url, database, world, Registry(), Journal())
    try:
        assert first.worlds is None and second.worlds is None
        assert set(first.exclusivity.tokens) == {"registry", "journal"} and not second.exclusivity.tokens
    finally:
        await stop_all([first, second])


async def test_a_request_for_a_world_being_handed_over_gets_a_retryable_error_and_the_bus_retries(
    nats_server_url, bus, world, database
) -> None:
    node = await placed_node(nats_server_url, database, world, World())
    try:
        partition = partition_of(world, PARTITIONS)
        node.worlds._live.discard(partition)  # as in a hand-over: held, not taking frames
        try:
            await bus.request(frame_for(WorldQuery(kind="flag", id="x"), world, "test"), 1)
        except RequestError as exc:
            assert exc.code == "unavailable", exc
        else:
            raise AssertionError("a world in hand-over was answered")
        pending = asyncio.ensure_future(bus.request(frame_for(WorldQuery(kind="flag", id="x"), world, "test"), 5))
        await asyncio.sleep(0.3)  # the bus retries meanwhile
        node.worlds._live.add(partition)  # the hand-over is over
        try:
            await pending
        except RequestError as exc:  # the owner's own answer: this world has seen no event
            assert exc.code == "bad_request", exc
        else:
            raise AssertionError("the owner should refuse a world with no facts")
    finally:
        await stop_all([node])


async def _settled(nodes: list[ActorNode], worlds: list[str]) -> dict[str, ActorNode] | None:
    owners = {name: owner(nodes, name) for name in worlds}
    if any(found is None for found in owners.values()) or any(n.worlds.placement._draining for n in nodes):
        return None
    return owners  # type: ignore[return-value]


async def _equals(pending: Any, expected: Any) -> bool:
    try:
        return await pending == expected
    except Exception:
        return False


async def test_three_nodes_on_thirty_worlds_hold_ten_give_or_take_two_each(nats_server_url, bus, world, database) -> None:
    worlds = [f"{world}x{index}" for index in range(30)]  # hashed as they fall: partitions unevenly loaded
    first = await placed_node(nats_server_url, database, world, World())
    nodes = [first]
    try:
        for name in worlds:
            await bus.publish(frame_for(opened(), name, "test"), durable=True)
        ours = set(worlds)  # the stream is the session's: a takeover also replays other tests' recent worlds
        await eventually(lambda: ours <= first.worlds.owned_worlds(), timeout=10, message="one node runs all 30")
        nodes += [await placed_node(nats_server_url, database, world, World()) for _ in range(2)]

        def spread() -> list[int]:
            # Every world counts (a takeover also replays other tests' recent worlds from the shared stream).
            held = sorted(len(node.worlds.owned_worlds()) for node in nodes)
            mean = sum(held) / 3
            owned = set().union(*(node.worlds.owned_worlds() for node in nodes))
            return held if ours <= owned and mean - 2 <= held[0] and held[-1] <= mean + 2 else []

        held = await eventually(spread, timeout=15, message="the worlds spread evenly (± 2) over three nodes")
        assert sum(held) >= 30
        for name in worlds:
            assert owner(nodes, name) is not None
    finally:
        await stop_all(nodes)


async def test_a_joining_node_moves_its_share_and_little_more(nats_server_url, bus, world, database) -> None:
    # Weighted partitions in transit (released, or taken and still loading) keep their weight: the
    # other nodes' plans do not shift while they move, so a join moves about its share, once.
    worlds = [f"{world}j{index}" for index in range(30)]
    first = await placed_node(nats_server_url, database, world, World())
    nodes = [first]
    try:
        for name in worlds:
            await bus.publish(frame_for(opened(), name, "test"), durable=True)
        ours = set(worlds)
        await eventually(lambda: ours <= first.worlds.owned_worlds(), timeout=10, message="one node runs all 30")
        await settled(lambda: _owned_counts(nodes))
        before = counter_value("lw.placement.acquired")
        lapsed_before = _lapsed_leases()
        nodes.append(await placed_node(nats_server_url, database, world, World()))
        counts = await settled(lambda: _owned_counts(nodes), quiet_s=3.0)
        assert counts == [PARTITIONS // 2, PARTITIONS // 2], counts
        taken = counter_value("lw.placement.acquired") - before
        # A lease whose renewal came too late on a loaded box is taken again: that is not the join's doing.
        lapsed = _lapsed_leases() - lapsed_before
        assert taken - lapsed <= PARTITIONS // 2 + 4, (
            f"{taken:g} acquisitions ({lapsed:g} after a lease lapsed) for a share of {PARTITIONS // 2}")
    finally:
        await stop_all(nodes)


def _lapsed_leases() -> float:
    """Leases lost because no renewal came in time (not because another node wrote them)."""
    return counter_value("lw.placement.lost", reason="expired") + counter_value("lw.placement.lost", reason="deadline")


async def _owned_counts(nodes: list[ActorNode]) -> list[int] | None:
    if any(n.worlds.placement._draining or n.worlds.placement._taking for n in nodes):
        return None
    return sorted(len(n.worlds.placement.owned) for n in nodes)
