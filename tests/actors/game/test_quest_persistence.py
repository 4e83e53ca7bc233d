"""Quest state in PostgreSQL: it survives a node restart and SIGKILLs, and no frame is applied twice."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from collections import Counter

import pytest

from loreweave.actors.quests import Quests
from loreweave.actors.runtime import frame_for
from loreweave.db import QuestRow
from loreweave.db import quests as quest_rows
from loreweave.protocol import ConfigError, encode_frame
from loreweave.schemas import (
    ClockTick,
    PlayerCollected,
    PlayerDefeated,
    QuestAccept,
    QuestCompleted,
    QuestGetJournal,
    QuestProgressed,
    WorldFlagSet,
)

from .conftest import ask, eventually, record
from .quest_worker import CRASH_QUESTS, CrashQuests, skip_history


async def journal_of(bus, world: str, player: str) -> dict[str, tuple[str, dict[str, int], str | None]]:
    journal = await ask(bus, world, QuestGetJournal(player_id=player))
    return {q.quest_id: (q.state, q.progress, q.failure) for q in journal.quests}


async def publish(bus, world: str, *events) -> list:
    frames = [frame_for(event, world, "test") for event in events]
    for frame in frames:
        await bus.publish(frame, durable=True)
    return frames


async def test_the_quests_actor_needs_a_database(start_node) -> None:
    with pytest.raises(ConfigError, match="give the node a database"):
        await start_node(Quests(CRASH_QUESTS))


async def test_quest_progress_survives_a_node_restart(database, bus, start_node, world) -> None:
    first = Quests(CRASH_QUESTS)
    await skip_history(bus, database, first)
    node = await start_node(first, database=database)
    events = await record(bus, f"lw.{world}.*.*")
    await publish(bus, world, ClockTick(tick=1, game_minutes=100))
    await eventually(lambda: first.state.worlds.get(world) is not None)
    for quest in ("gather", "hunt", "timed"):
        await ask(bus, world, QuestAccept(player_id="ann", quest_id=quest))
    sent = await publish(bus, world, *(PlayerCollected(player_id="ann", item="reed", count=2) for _ in range(5)),
                         *(PlayerDefeated(player_id="ann", target="drake") for _ in range(5)))

    async def reeds(count: int) -> bool:
        return (await journal_of(bus, world, "ann"))["gather"][1] == {"reeds": count}

    await eventually(lambda: reeds(10))
    await eventually(lambda: len(events.of(QuestProgressed)) == 10)
    before = await journal_of(bus, world, "ann")
    await node.stop()

    # While no node runs: more progress, and a copy of an applied frame under another message id.
    await publish(bus, world, *(PlayerCollected(player_id="ann", item="reed", count=1) for _ in range(3)),
                  ClockTick(tick=2, game_minutes=450))
    await bus.js.publish(sent[0].subject, encode_frame(sent[0]), headers={"Nats-Msg-Id": "a-copy"})

    second = Quests(CRASH_QUESTS)
    await start_node(second, database=database)
    assert second.state.worlds[world].game_minutes >= 100, "the snapshot was not loaded on start"
    await eventually(lambda: reeds(13))
    after = await journal_of(bus, world, "ann")
    assert after["hunt"] == before["hunt"] == ("active", {"drakes": 5}, None)
    assert after["timed"] == ("failed", {"go": 0}, "timeout")  # deadline 100 + 300 passed at 450
    await publish(bus, world, *(PlayerDefeated(player_id="ann", target="drake", count=20) for _ in range(2)))
    await eventually(lambda: len(events.of(QuestCompleted)) == 1)
    await eventually(lambda: events.of(WorldFlagSet) == [WorldFlagSet(flag="hunted", value=True, by="ann")])
    final = await journal_of(bus, world, "ann")
    assert final["gather"] == ("active", {"reeds": 13}, None) and final["hunt"][:2] == ("completed", {"drakes": 12})
    rows = await database.pool.fetch("SELECT quest_id, state FROM quest_state WHERE world = $1 ORDER BY 1", world)
    assert [tuple(r) for r in rows] == [("gather", "active"), ("hunt", "completed"), ("timed", "failed")]
    progressed = Counter((p.objective, p.count) for p in events.of(QuestProgressed))
    assert max(progressed.values()) == 1, "a frame was applied twice"


def crash_frames(players: int, total: int) -> tuple[list, dict[str, tuple[int, int]]]:
    """The crash test's frames, and per player the reeds and drakes they add up to."""
    frames, reeds, drakes = [], Counter(), Counter()
    for i in range(total):
        player = f"p{(i + i // 10) % players}"
        if i % 100 == 99:
            frames.append(ClockTick(tick=i, game_minutes=i))
        elif i % 10 == 9:
            frames.append(PlayerDefeated(player_id=player, target="drake"))
            drakes[player] += 1
        else:
            frames.append(PlayerCollected(player_id=player, item="reed", count=1 + i % 3))
            reeds[player] += 1 + i % 3
    return frames, {p: (reeds[p], drakes[p]) for p in (f"p{n}" for n in range(players))}


async def test_sigkill_mid_stream_applies_every_frame_once(
    database, bus, nats_server_url, world, pg_dsn, db_schema
) -> None:
    players, total = 5, 1500
    await skip_history(bus, database, CrashQuests(CRASH_QUESTS))
    for n in range(players):
        for quest_id, definition in CRASH_QUESTS.items():
            limit = definition.time_limit_minutes
            await quest_rows.save_quest(database.pool, QuestRow(
                world=world, player=f"p{n}", quest_id=quest_id, state="active",
                objectives=[o.model_dump() for o in definition.objectives],
                progress={o.id: 0 for o in definition.objectives}, deadline=limit))
    events, expected = crash_frames(players, total)
    for frame in [frame_for(event, world, "test") for event in events]:
        ack = await bus.js.publish(frame.subject, encode_frame(frame), headers={"Nats-Msg-Id": frame.id})
    env = {**os.environ, "LOREWEAVE_NATS_URL": nats_server_url}
    command = [sys.executable, "-m", "tests.actors.game.quest_worker", pg_dsn, db_schema, str(ack.seq)]
    all_reeds = sum(reeds for reeds, _ in expected.values())

    async def gathered() -> int:
        return await database.pool.fetchval(
            "SELECT coalesce(sum((progress->>'reeds')::int), 0) FROM quest_state WHERE world = $1", world)

    rng = random.Random(7)
    for threshold in sorted(rng.sample(range(all_reeds // 8, all_reeds * 3 // 4), 3)):
        process = await asyncio.create_subprocess_exec(*command, env=env)

        async def progressed(target: int = threshold) -> bool:
            return await gathered() >= target

        await eventually(progressed, timeout=60)
        assert process.returncode is None, "the quests process finished before it could be killed"
        process.kill()
        await process.wait()
        assert await gathered() < all_reeds, "the kill came after the last frame"
    final = await asyncio.create_subprocess_exec(*command, env=env)
    assert await asyncio.wait_for(final.wait(), 60) == 0

    rows = await database.pool.fetch(
        "SELECT player, quest_id, state, progress::text, failure FROM quest_state WHERE world = $1", world)
    found = {(r["player"], r["quest_id"]): (r["state"], json.loads(r["progress"]), r["failure"]) for r in rows}
    for player, (reeds, drakes) in expected.items():
        assert found[(player, "gather")] == ("active", {"reeds": reeds}, None)
        assert drakes >= 12 and found[(player, "hunt")] == ("completed", {"drakes": 12}, None)
        assert found[(player, "timed")] == ("failed", {"go": 0}, "timeout")
    claimed = await database.pool.fetchval("SELECT count(*) FROM processed_frames WHERE actor = 'quests'")
    assert claimed == total
    # Re-run batches emit the same frame ids, which JetStream keeps once.
    stored: Counter[str] = Counter()
    sub = await bus.js.subscribe(f"lw.{world}.*.*", ordered_consumer=True)
    while True:
        try:
            msg = await sub.next_msg(timeout=0.5)
        except Exception:  # nats raises its own timeout
            break
        stored[".".join(msg.subject.split(".")[2:])] += 1
    await sub.unsubscribe()
    assert (stored["quest.completed"], stored["quest.failed"], stored["world.flag_set"]) == (players,) * 3
