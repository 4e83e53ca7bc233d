"""A persistent actor for the persistence tests, and a process that runs it until it has seen N frames.

Usage: python -m tests.actors.persistent_counter WORLD DSN SCHEMA EXPECTED
"""

from __future__ import annotations

import asyncio
import os
import sys

from pydantic import BaseModel, Field

from loreweave.actors.runtime import Actor, ActorNode, Bus, Context, Persistence, on
from loreweave.schemas import PlayerMoved

EFFECTS_TABLE = "CREATE TABLE IF NOT EXISTS counter_effects (frame_id text NOT NULL, region text NOT NULL)"


class Totals(BaseModel):
    """Everything the counter has applied."""

    count: int = 0
    total: int = 0
    last_by_player: dict[str, int] = Field(default_factory=dict)
    out_of_order: int = 0


def counter_actor(world: str, fail_on: set[int] | None = None, interval_s: float = 0.05) -> Actor:
    """A persistent counter of ``player.moved`` frames whose region is a number."""
    failing = fail_on or set()

    class Counter(Actor):
        name = f"counter-{world}"
        State = Totals
        persistence = Persistence(interval_s=interval_s, max_batch=64)

        @on(f"lw.{world}.player.moved")
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            value = int(event.region)
            await ctx.conn.execute(
                "INSERT INTO counter_effects (frame_id, region) VALUES ($1, $2)", ctx.frame.id, event.region
            )
            if value in failing:
                raise ValueError(f"cannot count {value}")
            state: Totals = self.state
            if value <= state.last_by_player.get(event.player_id, -1):
                state.out_of_order += 1
            state.last_by_player[event.player_id] = value
            state.count += 1
            state.total += value

    return Counter()


async def main() -> None:
    from loreweave.db import Database

    world, dsn, schema, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    database = await Database.open(dsn, schema=schema, max_size=2)
    actor = counter_actor(world)
    node = ActorNode(await Bus.connect(os.environ["LOREWEAVE_NATS_URL"]), [actor], database=database, ack_wait_s=2)
    await node.start()
    while actor.state.count < expected:
        await asyncio.sleep(0.05)
    await node.stop()
    await database.close()


if __name__ == "__main__":
    asyncio.run(main())
