"""Two `loreweave run` processes of the same actors on one bus, killed and paused for real."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from loreweave.actors.runtime import Bus, RequestError, frame_for
from loreweave.schemas import ClockGetTime, RegionSpec, WorldFlagSet, WorldOpened, WorldQuery
from loreweave.testing import eventually
from loreweave.testing.node import NodeProcess, loreweave_run, node_env

pytestmark = pytest.mark.slow
ACTORS = ["world", "clock"]


async def flags(bus: Bus, world: str, count: int) -> list[Any]:
    answers = []
    for index in range(count):
        reply = await bus.request(frame_for(WorldQuery(kind="flag", id=f"f{index}"), world, "test"), 3)
        answers.append(reply.payload.value if reply.payload.found else None)
    return answers


async def clock_answers(bus: Bus, world: str) -> bool:
    """Whether a node runs the clock: it answers (a refusal, before the world opens, is an answer too)."""
    try:
        await bus.request(frame_for(ClockGetTime(), world, "test"), 1)
    except RequestError as exc:
        return exc.code not in ("timeout", "no_responders")
    return True


async def saved(dsn: str, actor: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM actor_snapshots WHERE actor = $1", actor))
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await conn.close()


async def two_nodes(url: str, dsn: str, tmp_path: Path) -> tuple[NodeProcess, NodeProcess]:
    nodes = []
    for name in ("a", "b"):
        node = NodeProcess(loreweave_run(ACTORS), node_env(url, dsn, tmp_path / name, actor_lease_ttl_s="3"),
                           log_path=tmp_path / f"{name}.log")
        await node.start()
        nodes.append(node)
    return nodes[0], nodes[1]


async def play(bus: Bus, world: str, count: int = 100) -> None:
    # Core frames reach an actor only while some node runs it (leases of an earlier test may linger).
    await eventually(lambda: clock_answers(bus, world), timeout=30, message="a node runs the actors")
    await bus.publish(frame_for(WorldOpened(regions=[RegionSpec(id="ford", name="Ford", biome="plains")]),
                                world, "test"), durable=True)
    for index in range(count):
        await bus.publish(frame_for(WorldFlagSet(flag=f"f{index}", value=index), world, "test"), durable=True)


async def test_two_processes_answer_as_one_and_a_sigkill_moves_the_actors(
    nats_server_url, bus, world, fresh_dsn, tmp_path
) -> None:
    first, second = await two_nodes(nats_server_url, fresh_dsn, tmp_path)
    try:
        await play(bus, world)
        await eventually(lambda: _answers(bus, world, 100), timeout=30, message="100 flags answered")
        assert await flags(bus, world, 100) == list(range(100))
        assert all([await clock_answers(bus, world) for _ in range(10)])
        await eventually(lambda: saved(fresh_dsn, "world"), timeout=10, message="the world state saved")
        await first.kill()  # the first node holds the leases: it started first
        await eventually(lambda: clock_answers(bus, world), timeout=15, message="the clock answers again")
        assert await flags(bus, world, 100) == list(range(100))
    finally:
        await first.terminate()
        await second.terminate()


async def test_a_paused_node_stops_when_it_wakes_and_the_other_keeps_answering(
    nats_server_url, bus, world, fresh_dsn, tmp_path
) -> None:
    first, second = await two_nodes(nats_server_url, fresh_dsn, tmp_path)
    try:
        await play(bus, world, 10)
        await eventually(lambda: _answers(bus, world, 10), timeout=30, message="10 flags answered")
        await eventually(lambda: saved(fresh_dsn, "world"), timeout=10, message="the world state saved")
        assert first.pid is not None
        os.kill(first.pid, signal.SIGSTOP)  # past the 3 s lease: the second node takes over
        try:
            await eventually(lambda: clock_answers(bus, world), timeout=15, message="the standby answers")
            await bus.publish(frame_for(WorldFlagSet(flag="f10", value=10), world, "test"), durable=True)
            await eventually(lambda: _answers(bus, world, 11), timeout=10, message="the new flag answered")
        finally:
            os.kill(first.pid, signal.SIGCONT)
        await eventually(lambda: "lease was lost" in (tmp_path / "a.log").read_text(), timeout=10,
                         message="the woken node noticed it lost its actors")
        assert await flags(bus, world, 11) == list(range(11))
    finally:
        await first.terminate()
        await second.terminate()


async def _answers(bus: Bus, world: str, count: int) -> bool:
    try:
        return await flags(bus, world, count) == list(range(count))
    except RequestError:
        return False
