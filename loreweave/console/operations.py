"""The operations glance: how busy the world is, how fast it reacts, who writes NPC lines,
and which frames were refused.

From what the runtime already records: the journal (rows per second, reaction latency from a
frame's time to its cause's, whose millisecond its ULID carries; the tier of every NPC line),
the live feed (frames per second a designer sees) and the dead-letter stream's per-subject
counts (``lw.dlq.<reason>``), which only an ops credential may read.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from loreweave.protocol.ids import frame_id_millis, is_frame_id

logger = logging.getLogger(__name__)

#: Journal rows the latency percentiles are computed over.
LATENCY_SAMPLE = 2000


@dataclass(frozen=True, slots=True)
class TierCount:
    """NPC lines written by one tier, and how many of them fell back to the script (and why)."""

    tier: str
    lines: int
    fallback: str = ""


@dataclass
class OperationsGlance:
    """One look at the world's health.

    Attributes:
        live_per_s: frames per second the console sees on the bus (last 10 s).
        journal_per_s: story rows per second written to the journal (last 60 s).
        reaction_p50_ms: median time from a frame to what it caused (journal sample).
        reaction_p99_ms: 99th percentile of the same.
        reactions: frames the percentiles are computed over.
        tiers: NPC lines per tier in the last hour (``scripted`` with a fallback reason when a model failed).
        dead_letters: dead letters kept per reason, or None when this credential may not read them.
        dead_letters_note: why the dead letters are not shown.
        by_type: journal rows per event type in the last hour.
    """

    live_per_s: float = 0.0
    journal_per_s: float = 0.0
    reaction_p50_ms: float | None = None
    reaction_p99_ms: float | None = None
    reactions: int = 0
    tiers: list[TierCount] = field(default_factory=list)
    dead_letters: dict[str, int] | None = None
    dead_letters_note: str = ""
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def fallbacks(self) -> int:
        """NPC lines the script wrote because a model did not answer."""
        return sum(t.lines for t in self.tiers if t.fallback)

    @property
    def lines(self) -> int:
        """NPC lines in the last hour."""
        return sum(t.lines for t in self.tiers)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def reaction_ms(ts_us: int, causation_id: str | None) -> float | None:
    """Milliseconds from a frame's cause to it, from the cause's ULID time; None without a cause."""
    if not causation_id or not is_frame_id(causation_id):
        return None
    return max(0.0, ts_us / 1000 - frame_id_millis(causation_id))


async def journal_glance(pool: asyncpg.Pool, world: str, glance: OperationsGlance) -> None:
    """Fill ``glance`` from the world's journal."""
    async with pool.acquire() as conn:
        recent = await conn.fetchval(
            "SELECT count(*) FROM event_journal WHERE world = $1 AND ts > now() - interval '60 seconds'", world
        )
        glance.journal_per_s = round(int(recent) / 60.0, 2)
        rows = await conn.fetch(
            "SELECT ts, causation_id FROM event_journal WHERE world = $1 AND causation_id IS NOT NULL"
            " ORDER BY ts DESC LIMIT $2", world, LATENCY_SAMPLE,
        )
        latencies = [
            latency for row in rows
            if (latency := reaction_ms(int(row["ts"].timestamp() * 1e6), row["causation_id"])) is not None
        ]
        glance.reactions = len(latencies)
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        glance.reaction_p50_ms = None if p50 is None else round(p50, 1)
        glance.reaction_p99_ms = None if p99 is None else round(p99, 1)
        tiers = await conn.fetch(
            """
            SELECT coalesce(payload->>'tier', 'scripted') AS tier, coalesce(payload->>'fallback', '') AS fallback,
                   count(*) AS n
              FROM event_journal WHERE world = $1 AND type = 'npc.said' AND ts > now() - interval '1 hour'
             GROUP BY 1, 2 ORDER BY 3 DESC
            """,
            world,
        )
        glance.tiers = [TierCount(r["tier"], int(r["n"]), r["fallback"]) for r in tiers]
        types = await conn.fetch(
            "SELECT type, count(*) AS n FROM event_journal WHERE world = $1 AND ts > now() - interval '1 hour'"
            " GROUP BY type ORDER BY 2 DESC", world,
        )
        glance.by_type = {r["type"]: int(r["n"]) for r in types}


async def dead_letters_by_reason(ops_bus: Any, stream: str = "LOREWEAVE_DLQ") -> dict[str, int]:
    """Dead letters kept per reason (``lw.dlq.<reason>``), from the stream's per-subject counts."""
    info = await asyncio.wait_for(ops_bus.js.stream_info(stream, subjects_filter="lw.dlq.>"), 3.0)
    subjects = info.state.subjects or {}
    counts: dict[str, int] = {}
    for subject, count in subjects.items():
        reason = subject.split(".", 2)[-1]
        counts[reason] = counts.get(reason, 0) + int(count)
    return dict(sorted(counts.items(), key=lambda pair: -pair[1]))


async def glance(pool: asyncpg.Pool, world: str, *, live_per_s: float, ops_bus: Any | None) -> OperationsGlance:
    """Everything the operations page shows."""
    result = OperationsGlance(live_per_s=round(live_per_s, 2))
    try:
        await journal_glance(pool, world, result)
    except asyncpg.UndefinedTableError:
        logger.warning("console: no event_journal table; run `loreweave db migrate`")
    if ops_bus is None:
        result.dead_letters_note = "needs an ops credential (loreweave console --ops-creds FILE)"
    else:
        try:
            result.dead_letters = await dead_letters_by_reason(ops_bus)
        except Exception as exc:  # noqa: BLE001  (a page must render whatever the bus says)
            result.dead_letters_note = f"the dead-letter stream could not be read: {type(exc).__name__}"
    return result
