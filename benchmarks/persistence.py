"""Durable frames/s with state snapshots and idempotency records, against the same run without.

    python benchmarks/persistence.py [--frames 20000]

Both runs consume the same frames from JetStream (published beforehand) through the actor
runtime. Without persistence: a durable consumer, acked after each handler. With persistence:
one ordered consumer, frames committed in batches with a claim per frame id and a state
snapshot in the same PostgreSQL transaction. Uses LOREWEAVE_NATS_URL / LOREWEAVE_DATABASE_URL
when set, else embedded servers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from loreweave.actors.runtime import Actor, ActorNode, Bus, Context, Persistence, frame_for, on
from loreweave.config import load_settings
from loreweave.db import Database
from loreweave.embedded import EmbeddedNats, database_dsn
from loreweave.schemas import PlayerMoved

console = Console()


class Tally(BaseModel):
    """The benchmark actor's state."""

    count: int = 0
    total: int = 0


def make_actor(world: str, persistent: bool, seen: list[int]) -> Actor:
    class Plain(Actor):
        name = f"plain-{world}"

        @on(f"lw.{world}.player.moved", durable=True, key=lambda frame: frame.payload.player_id)
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            seen[0] += 1

    class Persistent(Actor):
        name = f"persistent-{world}"
        State = Tally
        persistence = Persistence(interval_s=0.1, max_batch=512)

        @on(f"lw.{world}.player.moved")
        async def moved(self, event: PlayerMoved, ctx: Context) -> None:
            self.state.count += 1
            self.state.total += int(event.region)
            seen[0] += 1

    return Persistent() if persistent else Plain()


async def publish(bus: Bus, world: str, frames: int, progress: Progress) -> None:
    task = progress.add_task(f"publishing {frames} frames to JetStream", total=frames)
    pending: list[Any] = []
    for number in range(frames):
        frame = frame_for(PlayerMoved(player_id=f"p{number % 32}", region=str(number)), world, "bench")
        pending.append(bus.js.publish(frame.subject, bus.encode(frame), headers={"Nats-Msg-Id": frame.id}))
        if len(pending) == 256:
            await asyncio.gather(*pending)
            pending.clear()
            progress.update(task, completed=number + 1)
    await asyncio.gather(*pending)
    progress.update(task, completed=frames)


async def consume(url: str, database: Database | None, world: str, frames: int, progress: Progress,
                  label: str) -> float:
    seen = [0]
    actor = make_actor(world, database is not None, seen)
    node = ActorNode(await Bus.connect(url), [actor], database=database, capacity=1024)
    task = progress.add_task(label, total=frames)
    began = time.perf_counter()
    await node.start()
    while seen[0] < frames:
        await asyncio.sleep(0.05)
        progress.update(task, completed=seen[0])
    elapsed = time.perf_counter() - began
    await node.stop()
    return frames / elapsed


async def main(frames: int) -> int:
    settings = load_settings()
    server = None
    url = settings.nats_url
    if not url:
        server = EmbeddedNats(Path(tempfile.mkdtemp(prefix="lw-bench-nats-")))
        await server.start()
        url = server.client_url()
    if not settings.database_url:
        settings = settings.model_copy(update={"data_dir": Path(tempfile.mkdtemp(prefix="lw-bench-pg-"))})
    try:
        async with database_dsn(settings) as dsn:
            database = await Database.open(dsn, schema="bench_" + uuid.uuid4().hex[:8], max_size=4)
            bus = await Bus.connect(url)
            await bus.ensure_streams()
            world = "bench" + uuid.uuid4().hex[:6]
            with Progress(console=console, transient=True) as progress:
                await publish(bus, world, frames, progress)
                plain = await consume(url, None, world, frames, progress, "durable consumer, no persistence")
                persistent = await consume(url, database, world, frames, progress, "persistent actor")
            await bus.close()
            await database.close()
    finally:
        if server:
            await server.stop()
    table = Table(title=f"persistence: {frames} durable frames")
    for column in ("path", "frames/s", "ratio"):
        table.add_column(column, justify="left" if column == "path" else "right")
    table.add_row("durable consumer, ack per frame, no database", f"{plain:,.0f}", "1.00")
    table.add_row("persistent: claims + snapshot per batch", f"{persistent:,.0f}", f"{persistent / plain:.2f}")
    console.print(table)
    print(f"ratio persistent/plain: {persistent / plain:.2f}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20_000)
    sys.exit(asyncio.run(main(parser.parse_args().frames)))
