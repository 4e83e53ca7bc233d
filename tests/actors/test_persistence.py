"""Persistent actors against real NATS (JetStream) and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import random
import sys

import pytest

from loreweave.actors.runtime import frame_for
from loreweave.protocol import ConfigError, encode_frame
from loreweave.schemas import PlayerMoved

from .conftest import eventually
from .persistent_counter import EFFECTS_TABLE, counter_actor


async def publish_moves(bus, world: str, values: range, players: int = 3) -> int:
    total = 0
    for value in values:
        frame = frame_for(PlayerMoved(player_id=f"p{value % players}", region=str(value)), world, "test")
        await bus.publish(frame, durable=True)
        total += value
    return total


@pytest.fixture
async def effects_table(database) -> None:
    await database.pool.execute(EFFECTS_TABLE)


async def test_state_survives_a_restart_and_replays_only_what_the_snapshot_lacks(
    bus, start_node, world, database, effects_table
) -> None:
    first = counter_actor(world)
    node = await start_node(first, database=database)
    expected = await publish_moves(bus, world, range(0, 100))
    await eventually(lambda: first.state.count == 100, timeout=15)
    await node.stop()

    snapshot = await database.state.load_snapshot(first.name)
    assert snapshot is not None and snapshot.stream_seq > 0
    expected += await publish_moves(bus, world, range(100, 150))
    second = counter_actor(world)
    await start_node(second, database=database)
    assert second.state.count >= 100, "the snapshot was not loaded on start"
    await eventually(lambda: second.state.count == 150, timeout=15)
    assert second.state.total == expected
    assert second.state.out_of_order == 0
    rows = await database.pool.fetchval("SELECT count(*) FROM counter_effects")
    assert rows == 150, "a frame's database effects were applied twice or lost"


async def test_a_duplicate_frame_id_changes_nothing(bus, start_node, world, database, effects_table) -> None:
    frame = frame_for(PlayerMoved(player_id="p1", region="5"), world, "test")
    data = encode_frame(frame)
    # Two different Nats-Msg-Ids, so JetStream stores both copies; the claim must stop the second.
    # Published before the actor starts, both copies arrive in its first batch; the third copy,
    # published later, arrives in another batch.
    await bus.js.publish(frame.subject, data, headers={"Nats-Msg-Id": "copy-1"})
    await bus.js.publish(frame.subject, data, headers={"Nats-Msg-Id": "copy-2"})
    actor = counter_actor(world)
    await start_node(actor, database=database)
    await eventually(lambda: actor.state.count == 1, timeout=10)
    await bus.js.publish(frame.subject, data, headers={"Nats-Msg-Id": "copy-3"})
    await publish_moves(bus, world, range(6, 7))
    await eventually(lambda: actor.state.last_by_player.get("p0") == 6, timeout=10)
    assert actor.state.count == 2 and actor.state.total == 11
    assert await database.pool.fetchval("SELECT count(*) FROM counter_effects") == 2


async def test_a_failing_frame_rolls_back_alone_and_goes_to_the_dlq(
    bus, start_node, world, database, effects_table
) -> None:
    dead: list = []

    async def keep(msg) -> None:
        dead.append(msg)

    await bus.nc.subscribe("lw.dlq.handler_failed", cb=keep)
    await bus.sync()
    actor = counter_actor(world, fail_on={13})
    await start_node(actor, database=database, attempts=2)
    expected = await publish_moves(bus, world, range(0, 30)) - 13
    await eventually(lambda: actor.state.count == 29, timeout=15)
    await eventually(lambda: any(world in msg.headers["Lw-Dlq-Subject"] for msg in dead))
    assert actor.state.total == expected
    regions = [row["region"] for row in await database.pool.fetch("SELECT region FROM counter_effects")]
    assert "13" not in regions, "the failing frame's database write was not rolled back"
    assert len(regions) == 29


async def test_a_persistent_actor_needs_a_database(start_node, world) -> None:
    with pytest.raises(ConfigError, match="database"):
        await start_node(counter_actor(world))


@pytest.mark.slow
async def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    bus, nats_server_url, world, pg_dsn, db_schema, database, effects_table
) -> None:
    total_frames = 3000
    expected = await publish_moves(bus, world, range(total_frames), players=7)
    env = {**os.environ, "LOREWEAVE_NATS_URL": nats_server_url}
    command = [sys.executable, "-m", "tests.actors.persistent_counter", world, pg_dsn, db_schema, str(total_frames)]
    rng = random.Random(1234)
    # Kill at random points of progress (committed effects), so every kill lands mid-work.
    thresholds = sorted(rng.sample(range(100, total_frames - 200), 5))
    for threshold in thresholds:
        process = await asyncio.create_subprocess_exec(*command, env=env)

        async def progressed(target: int = threshold) -> bool:
            done = await database.pool.fetchval("SELECT count(*) FROM counter_effects")
            return done >= target

        await eventually(progressed, timeout=60)
        await asyncio.sleep(rng.uniform(0, 0.05))
        assert process.returncode is None, "the actor process finished before it could be killed"
        process.kill()
        await process.wait()
    final = await asyncio.create_subprocess_exec(*command, env=env)
    assert await asyncio.wait_for(final.wait(), 120) == 0

    snapshot = await database.state.load_snapshot(f"counter-{world}")
    from tests.actors.persistent_counter import Totals
    import msgpack

    state = Totals.model_validate(msgpack.unpackb(snapshot.state))
    assert (state.count, state.total, state.out_of_order) == (total_frames, expected, 0)
    assert await database.pool.fetchval("SELECT count(*) FROM counter_effects") == total_frames
    assert await database.pool.fetchval("SELECT count(DISTINCT frame_id) FROM counter_effects") == total_frames
