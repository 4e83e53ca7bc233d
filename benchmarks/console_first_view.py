"""The console's first view with a long journal, against the journal query it is built on.

    python benchmarks/console_first_view.py [--rows 10000] [--rounds 30]

Fills the journal of one world with ``--rows`` story rows, starts the console (no bus: its live
feed is empty), then times, interleaved round by round, the journal query the story page makes
(the latest 200 story rows) and a whole ``GET /story`` over HTTP (query, story items, template,
transfer). The issue's budget for the first view is 1 s; the browser's own time to
DOMContentLoaded is measured by tests/console/test_browser.py. Uses LOREWEAVE_DATABASE_URL when
set, else an embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from loreweave.config import load_settings
from loreweave.console import STORY_TYPES, ConsoleServer, ConsoleState, LiveFeed
from loreweave.db import Database, JournalEntry
from loreweave.embedded import database_dsn
from loreweave.protocol.ids import new_frame_id

BUDGET_MS = 1000.0
TYPES = ("npc.said", "narrative.beat", "narrative.ambience", "quest.accepted", "narrative.hook")


def rows(world: str, count: int) -> list[JournalEntry]:
    start = datetime.now(timezone.utc) - timedelta(hours=3)
    made = []
    for n in range(count):
        frame_id = new_frame_id()
        kind = TYPES[n % len(TYPES)]
        made.append(JournalEntry(frame_id, world, kind, start + timedelta(milliseconds=700 * n), "bench", frame_id,
                                 None, {"npc_id": "wren", "player_id": f"p{n % 40:04d}", "quest_id": "eels",
                                        "region": "mirewood", "text": f"line {n}: the reeds whisper of the lantern"}))
    return made


def summary(label: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"{label:<34} p50 {statistics.median(ordered):7.1f} ms   p99 {p99:7.1f} ms"


async def main(count: int, rounds: int) -> int:
    settings = load_settings()
    if not settings.database_url:
        settings = settings.model_copy(update={"data_dir": Path(tempfile.mkdtemp(prefix="lw-bench-pg-"))})
    async with database_dsn(settings) as dsn:
        database = await Database.open(dsn, schema="bench_" + uuid.uuid4().hex[:8], max_size=4)
        world = "bench" + uuid.uuid4().hex[:6]
        await database.journal.append_many(rows(world, count))
        server = ConsoleServer(ConsoleState(world=world, database=database, feed=LiveFeed(world)), port=0)
        await server.start()
        query_ms: list[float] = []
        page_ms: list[float] = []
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
                await client.get("/story")  # warm: templates compiled, pool connected
                for _ in range(rounds):
                    started = time.perf_counter()
                    await database.journal.query(world, types=list(STORY_TYPES), limit=200, latest=True)
                    query_ms.append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    response = await client.get("/story")
                    page_ms.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200 and response.text.count('class="row ') >= 200
        finally:
            await server.stop()
            await database.close()
    print(f"console first view, {count:,} journal rows, {rounds} rounds (story page: latest 200 rows)")
    print(summary("journal query alone (baseline)", query_ms))
    print(summary("GET /story (query + page)", page_ms))
    ratio = statistics.median(page_ms) / statistics.median(query_ms)
    print(f"ratio page/query p50: {ratio:.2f}; slowest page {max(page_ms):.0f} ms of a {BUDGET_MS:.0f} ms budget")
    return 0 if max(page_ms) < BUDGET_MS else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.rows, arguments.rounds)))
