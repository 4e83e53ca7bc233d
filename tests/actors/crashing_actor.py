"""A durable actor process for the crash test: it SIGKILLs itself after emitting, before acking.

Usage: python -m tests.actors.crashing_actor WORLD CRASH_ON MARKER_FILE EXPECTED
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from loreweave.actors.runtime import Actor, ActorNode, Bus, Context, on
from loreweave.schemas import NpcSaid, PlayerMoved


def make_actor(world: str, crash_on: str, marker: Path, done: asyncio.Event, expected: int) -> Actor:
    class Mover(Actor):
        name = f"mover-{world}"
        handled = 0

        @on(f"lw.{world}.player.moved", durable=True)
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            await ctx.emit(NpcSaid(npc_id="watcher", text=f"saw {event.region}"))
            if event.region == crash_on and not marker.exists():
                marker.write_text("crashed")
                os.kill(os.getpid(), signal.SIGKILL)
            Mover.handled += 1
            if event.region == str(expected - 1):
                done.set()

    return Mover()


async def main() -> None:
    world, crash_on, marker, expected = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    done = asyncio.Event()
    bus = await Bus.connect(os.environ["LOREWEAVE_NATS_URL"], name="crashing-actor")
    node = ActorNode(bus, [make_actor(world, crash_on, marker, done, expected)], ack_wait_s=1.0)
    await node.start()
    await asyncio.wait_for(done.wait(), 30)
    await node.stop()


if __name__ == "__main__":
    asyncio.run(main())
