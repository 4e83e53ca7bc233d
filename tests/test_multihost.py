"""Three hosts (network namespaces), each with one nats-server of a 3-server cluster (JetStream,
replicas 3) and one actor node: cut one host off, its worlds move, the cluster keeps the data,
and healing causes no duplicates."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from loreweave.actors.runtime import Bus, frame_for
from loreweave.actors.runtime.bus import EVENTS_STREAM, StreamLimits
from loreweave.actors.runtime.placement import DEFAULT_PARTITIONS, partition_of
from loreweave.schemas import ClockGetTime, RegionSpec, WorldFlagSet, WorldOpened
from loreweave.testing import eventually
from loreweave.testing.netns import Hosts, NatsCluster, netns_unavailable
from loreweave.testing.placement import (
    clock_ticks,
    flags_answered,
    lease_owners,
    node_id_in_log,
    settled,
    spread_worlds,
)
from loreweave.testing.node import NodeProcess, loreweave_run, node_env

UNAVAILABLE = netns_unavailable()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"no network namespaces here: {UNAVAILABLE}"),
]
ACTORS = ["world", "clock"]
FLAGS = 30


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[Hosts, NatsCluster]]:
    work = Path(tempfile.mkdtemp(prefix="lw-multihost-"))
    hosts = Hosts(3)
    hosts.down()
    hosts.up()
    nats = NatsCluster(hosts, work)
    try:
        nats.start()
        yield hosts, nats
    finally:
        await nats.stop()
        hosts.down()


async def connect(url: str) -> Bus:
    return await Bus.connect(url, name="multihost-test", wait_s=20)


async def streams_ready(bus: Bus) -> bool:
    try:
        await bus.ensure_streams(StreamLimits(replicas=3))
    except Exception:
        return False
    return True


async def owners(bus: Bus, worlds: list[str]) -> dict[str, str]:
    held = await lease_owners(bus)
    return {world: held[partition_of(world, DEFAULT_PARTITIONS)] for world in worlds}


def node_id(node: NodeProcess) -> str:
    assert node.log_path is not None
    found = node_id_in_log(node.log_path)
    assert found is not None, f"no placement id in {node.log_path}"
    return found


async def test_a_cut_host_s_worlds_move_the_cluster_keeps_the_data_and_healing_doubles_nothing(
    cluster, fresh_dsn, tmp_path
) -> None:
    hosts, nats = cluster
    bus = await connect(nats.url(0))
    nodes: list[NodeProcess] = []
    try:
        await eventually(lambda: streams_ready(bus), timeout=30, message="the cluster elected its JetStream leader")
        for host in range(3):
            node = NodeProcess(
                hosts.command(host, loreweave_run(ACTORS)),
                node_env(nats.url(host), fresh_dsn, tmp_path / f"node{host}", actor_lease_ttl_s="3", replicas="3"),
                log_path=tmp_path / f"node{host}.log",
            )
            await node.start(90)
            nodes.append(node)
        worlds = spread_worlds(f"{hosts.tag}w", 9)
        regions = [RegionSpec(id="ford", name="Ford", biome="plains")]
        for world in worlds:
            await bus.publish(frame_for(WorldOpened(regions=regions), world, "test"), durable=True)
            for flag in range(FLAGS):
                await bus.publish(frame_for(WorldFlagSet(flag=f"f{flag}", value=flag), world, "test"), durable=True)
        for world in worlds:
            await eventually(lambda: flags_answered(bus, world, FLAGS), timeout=30, message=f"{world} answers its flags")

        owned = await settled(lambda: _owners(bus, worlds))
        by_id = {node_id(node): host for host, node in enumerate(nodes)}
        victim = next(by_id[owned[w]] for w in worlds if by_id[owned[w]] != 0)  # keep host 0's bus reachable
        moved = [w for w in worlds if by_id[owned[w]] == victim]
        last_seq = (await bus.js.stream_info(EVENTS_STREAM)).state.last_seq

        hosts.cut(victim)
        loop = asyncio.get_running_loop()
        cut_at = loop.time()
        for world in moved:
            await eventually(lambda: flags_answered(bus, world, FLAGS), timeout=40, message=f"{world} answers elsewhere")
        took = loop.time() - cut_at
        assert took < 30, f"the cut host's worlds resumed after {took:.1f}s"
        await bus.publish(frame_for(WorldFlagSet(flag=f"f{FLAGS}", value=FLAGS), moved[0], "test"), durable=True)
        await eventually(lambda: flags_answered(bus, moved[0], FLAGS + 1), timeout=20, message="a flag set during the cut")
        assert (await bus.js.stream_info(EVENTS_STREAM)).state.last_seq > last_seq, "the cluster keeps storing"

        hosts.heal(victim)
        log = nodes[victim].log_path
        assert log is not None
        await eventually(lambda: " lost partition " in log.read_text(), timeout=30,
                         message="the healed node found its partitions taken")
        healed = await connect(nats.url(victim))
        try:
            await eventually(lambda: _caught_up(healed, bus), timeout=30, message="the healed server caught up")
        finally:
            await healed.close()
        # The healed node is a member again: the balancer may hand it worlds back, gracefully.
        after = await settled(lambda: _owners(bus, worlds), timeout=40)
        assert set(after) == set(worlds) and all(owner in by_id for owner in after.values()), after
        for world in worlds:
            count = FLAGS + 1 if world == moved[0] else FLAGS
            await eventually(lambda: flags_answered(bus, world, count), timeout=20, message=f"{world} after healing")
        for world, seen in zip(moved, await asyncio.gather(*(clock_ticks(bus, w) for w in moved))):
            assert seen == sorted(set(seen)), f"two clocks tick {world} after healing: {seen}"
        await bus.request(frame_for(ClockGetTime(), moved[0], "test"), 3)
    finally:
        await asyncio.gather(*(node.terminate() for node in nodes), return_exceptions=True)
        await bus.close()


async def _owners(bus: Bus, worlds: list[str]) -> dict[str, str] | None:
    try:  # right after healing, JetStream may answer 503 while its leaders settle
        return await owners(bus, worlds)
    except Exception:
        return None


async def _caught_up(healed: Bus, bus: Bus) -> bool:
    try:
        mine = (await healed.js.stream_info(EVENTS_STREAM)).state.last_seq
        theirs = (await bus.js.stream_info(EVENTS_STREAM)).state.last_seq
    except Exception:
        return False
    return mine >= theirs
