"""`loreweave run` processes of the same actors on one bus, sharing the worlds; killed, paused and
joined for real."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from loreweave.actors.runtime import Bus, frame_for
from loreweave.actors.runtime.placement import DEFAULT_PARTITIONS, partition_of
from loreweave.schemas import RegionSpec, WorldFlagSet, WorldOpened
from loreweave.testing import eventually
from loreweave.testing.node import NodeProcess, loreweave_run, node_env
from loreweave.testing.placement import (
    clock_answers,
    clock_ticks,
    flag_values,
    flags_answered,
    lease_owners,
    node_id_in_log,
    settled,
    spread_worlds,
)

pytestmark = pytest.mark.slow
ACTORS = ["world", "clock"]


async def saved_worlds(dsn: str, actor: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT key FROM actor_snapshots WHERE actor = $1 AND key <> ''", actor)
        return {row["key"] for row in rows}
    except asyncpg.UndefinedTableError:
        return set()
    finally:
        await conn.close()


async def start_nodes(url: str, dsn: str, tmp_path: Path, names: str) -> list[NodeProcess]:
    nodes = []
    for name in names:
        node = NodeProcess(loreweave_run(ACTORS), node_env(url, dsn, tmp_path / name, actor_lease_ttl_s="3"),
                           log_path=tmp_path / f"{name}.log")
        await node.start()
        nodes.append(node)
    return nodes


async def owner_of(bus: Bus, world: str, nodes: list[NodeProcess]) -> NodeProcess | None:
    """The node process holding ``world``'s partition lease now (its node id is in its log)."""
    node_id = (await lease_owners(bus)).get(partition_of(world, DEFAULT_PARTITIONS))
    for node in nodes:
        if node.log_path is not None and node_id is not None and node_id_in_log(node.log_path) == node_id:
            return node
    return None


async def settled_owners(bus: Bus, worlds: list[str], nodes: list[NodeProcess]) -> dict[str, NodeProcess]:
    """Each world's owner, once every world has one and none moved for a while."""

    async def read() -> dict[str, NodeProcess] | None:
        now = {name: await owner_of(bus, name, nodes) for name in worlds}
        return None if None in now.values() else now  # type: ignore[return-value]

    return await settled(read)


async def play(bus: Bus, worlds: list[str], count: int = 100) -> None:
    for world in worlds:
        await eventually(lambda: clock_answers(bus, world), timeout=30, message=f"a node runs {world}")
        await bus.publish(frame_for(WorldOpened(regions=[RegionSpec(id="ford", name="Ford", biome="plains")]),
                                    world, "test"), durable=True)
        for index in range(count):
            await bus.publish(frame_for(WorldFlagSet(flag=f"f{index}", value=index), world, "test"), durable=True)


async def terminate(nodes: list[NodeProcess]) -> None:
    await asyncio.gather(*(node.terminate() for node in nodes), return_exceptions=True)


async def test_two_processes_share_the_worlds_and_a_sigkill_moves_the_dead_nodes_worlds_with_every_flag(
    nats_server_url, bus, world, fresh_dsn, tmp_path
) -> None:
    worlds = spread_worlds(world, 6)
    nodes = await start_nodes(nats_server_url, fresh_dsn, tmp_path, "ab")
    try:
        await play(bus, worlds)
        for name in worlds:
            await eventually(lambda: flags_answered(bus, name, 100), timeout=30, message=f"100 flags answered in {name}")
            assert all([await clock_answers(bus, name) for _ in range(5)])
        owners = await settled_owners(bus, worlds, nodes)
        assert set(owners.values()) == set(nodes), "both nodes should run some of the worlds"

        victim = owners[worlds[0]]
        moved = [name for name in worlds if owners[name] is victim]
        await eventually(lambda: _contains(saved_worlds(fresh_dsn, "world"), moved), timeout=10,
                         message="the worlds' state saved")
        for name in moved:  # after the last snapshot, most likely: only the replay keeps these
            await bus.publish(frame_for(WorldFlagSet(flag="f100", value=100), name, "test"), durable=True)
        await victim.kill()
        loop = asyncio.get_running_loop()
        died = loop.time()
        for name in moved:
            await eventually(lambda: clock_answers(bus, name), timeout=15, message=f"{name} answers again")
        took = loop.time() - died
        assert took < 10, f"the dead node's worlds resumed after {took:.1f}s"
        for name in worlds:
            assert await flag_values(bus, name, 101 if name in moved else 100) == list(range(101 if name in moved else 100))
    finally:
        await terminate(nodes)


async def test_a_paused_owner_stops_when_it_wakes_and_the_other_keeps_answering(
    nats_server_url, bus, world, fresh_dsn, tmp_path
) -> None:
    nodes = await start_nodes(nats_server_url, fresh_dsn, tmp_path, "ab")
    try:
        await play(bus, [world], 10)
        await eventually(lambda: flags_answered(bus, world, 10), timeout=30, message="10 flags answered")
        paused = (await settled_owners(bus, [world], nodes))[world]
        assert paused is not None and paused.pid is not None
        os.kill(paused.pid, signal.SIGSTOP)  # past the 3 s lease: the other node takes over
        try:
            await bus.publish(frame_for(WorldFlagSet(flag="f10", value=10), world, "test"), durable=True)
            await eventually(lambda: flags_answered(bus, world, 11), timeout=20, message="the new flag answered elsewhere")
        finally:
            os.kill(paused.pid, signal.SIGCONT)
        log = paused.log_path
        assert log is not None
        await eventually(lambda: " lost partition " in log.read_text(), timeout=10,
                         message="the woken node noticed it lost its partitions")
        assert await flag_values(bus, world, 11) == list(range(11))
        ticks = await clock_ticks(bus, world)
        assert ticks == sorted(set(ticks)), f"two clocks ticked {world}: {ticks}"
    finally:
        await terminate(nodes)


async def test_a_joining_node_takes_its_share_and_the_worlds_keep_their_state(
    nats_server_url, bus, world, fresh_dsn, tmp_path
) -> None:
    worlds = spread_worlds(world, 8)
    nodes = await start_nodes(nats_server_url, fresh_dsn, tmp_path, "a")
    try:
        await play(bus, worlds, 20)
        for name in worlds:
            await eventually(lambda: flags_answered(bus, name, 20), timeout=30, message=f"20 flags answered in {name}")
        loop = asyncio.get_running_loop()
        joined = loop.time()
        nodes += await start_nodes(nats_server_url, fresh_dsn, tmp_path, "bc")
        await eventually(lambda: _spread(bus, worlds, nodes), timeout=20, message="every node runs some worlds")
        took = loop.time() - joined
        assert took < 20, f"rebalancing took {took:.1f}s"
        for name in worlds:
            assert await flag_values(bus, name, 20) == list(range(20)), f"{name} lost flags in the hand-over"
        for name, ticks in zip(worlds, await asyncio.gather(*(clock_ticks(bus, name) for name in worlds))):
            assert ticks == sorted(set(ticks)), f"two clocks ticked {name}: {ticks}"
    finally:
        await terminate(nodes)


async def _spread(bus: Bus, worlds: list[str], nodes: list[NodeProcess]) -> bool:
    owners = {await owner_of(bus, name, nodes) for name in worlds}
    return owners == set(nodes)


async def _contains(pending: Any, wanted: list[str]) -> bool:
    return set(wanted) <= await pending
