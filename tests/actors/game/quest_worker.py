"""A quests actor in a process of its own, for the crash test: runs until its snapshot covers a stream sequence.

Usage: python -m tests.actors.game.quest_worker DSN SCHEMA STREAM_SEQ
"""

from __future__ import annotations

import asyncio
import os
import sys

from loreweave.actors.quests import QuestDefinition, Quests
from loreweave.actors.runtime import ActorNode, Bus, EVENTS_STREAM, Persistence
from loreweave.schemas import Objective, Rewards

#: The quests of the crash test: one that never completes (its count only grows), one that
#: completes mid-stream, and one that times out.
CRASH_QUESTS = {
    "gather": QuestDefinition(id="gather", title="Gather", objectives=[
        Objective(id="reeds", kind="collect", target="reed", count=10_000)]),
    "hunt": QuestDefinition(id="hunt", title="Hunt", rewards=Rewards(flags={"hunted": True}), objectives=[
        Objective(id="drakes", kind="defeat", target="drake", count=12)]),
    "timed": QuestDefinition(id="timed", title="Timed", time_limit_minutes=300, objectives=[
        Objective(id="go", kind="visit", target="nowhere")]),
}


class CrashQuests(Quests):
    """The quests actor, committing small batches often (so a kill lands between commits)."""

    name = "quests"
    persistence = Persistence(interval_s=0.05, max_batch=32)


async def skip_history(bus: Bus, database: object, actor: Quests) -> int:
    """Save an empty snapshot at the stream's last sequence, so a fresh ``actor`` replays nothing older.

    A persistent actor without a snapshot replays every retained frame of its subjects; in a
    test session that is every earlier test's frames. Returns the sequence.
    """
    from loreweave.actors.runtime.persistence import dump_state

    info = await bus.js.stream_info(EVENTS_STREAM)
    await database.state.save_snapshot(actor.name, dump_state(actor), info.state.last_seq)  # type: ignore[attr-defined]
    return int(info.state.last_seq)


async def main() -> None:
    from loreweave.db import Database

    dsn, schema, target = sys.argv[1], sys.argv[2], int(sys.argv[3])
    database = await Database.open(dsn, schema=schema, max_size=3)
    node = ActorNode(await Bus.connect(os.environ["LOREWEAVE_NATS_URL"]), [CrashQuests(CRASH_QUESTS)],
                     database=database, ack_wait_s=2)
    await node.start()
    while True:
        snapshot = await database.state.load_snapshot("quests")
        if snapshot is not None and snapshot.stream_seq >= target:
            break
        await asyncio.sleep(0.05)
    await node.stop()
    await database.close()


if __name__ == "__main__":
    asyncio.run(main())
