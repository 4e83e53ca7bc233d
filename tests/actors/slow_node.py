"""``loreweave run`` hosting one deliberately slow actor, for the shutdown test.

Usage: python -m tests.actors.slow_node WORLD [loreweave run options]

The actor takes ``player.joined`` in WORLD one at a time (key: the world), says so with an
``npc.said`` on its first frame, and spends a minute on each: a backlog that never drains.
"""

from __future__ import annotations

import asyncio
import sys

from pydantic import BaseModel

from loreweave.actors import catalog
from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, on
from loreweave.cli.main import main
from loreweave.schemas import NpcSaid, PlayerJoined


class Nothing(BaseModel):
    """The slow actor keeps no state."""


def slow_actor(world: str) -> type[GameActor[Nothing]]:
    class Slow(GameActor[Nothing]):
        name = "slow"

        def __init__(self, *, seed: int = 0, heartbeat_s: float = 5.0) -> None:
            super().__init__(Nothing(), seed=seed, heartbeat_s=heartbeat_s)
            self.busy = False

        @on(f"lw.{world}.player.joined", key=lambda frame: frame.world)
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            if not self.busy:
                self.busy = True
                await ctx.emit(NpcSaid(npc_id="slow", text="busy"))
            await asyncio.sleep(60)

    return Slow


if __name__ == "__main__":
    catalog.ACTORS["slow"] = slow_actor(sys.argv[1])
    main(["run", "--actors", "slow", *sys.argv[2:]])
