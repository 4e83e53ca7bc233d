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
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from loreweave.protocol.ids import frame_id_millis, is_frame_id

logger = logging.getLogger(__name__)

#: Journal rows the latency percentiles are computed over.
LATENCY_SAMPLE = 2000
#: Seconds of heartbeats the actors' handling rate is computed over.
HEARTBEAT_WINDOW_S = 30.0


class ActorCounters:
    """The frames the actors handled in one world, from the counts their heartbeats carry.

    Every actor instance sends ``actor.heartbeat`` on ``lw.sys.heartbeat.actor.<actor>`` with
    its handled and failed counts per world (an ops credential may read them); the rate is the
    growth of each instance's count over the window, summed.
    """

    def __init__(self, world: str, window_s: float = HEARTBEAT_WINDOW_S) -> None:
        self.world = world
        self.window_s = window_s
        self.samples: dict[str, deque[tuple[float, int, int]]] = {}
        self._subscription: Any = None

    def record(self, instance: str, handled: int, failed: int, now: float | None = None) -> None:
        """Note one instance's counts in the world."""
        moment = time.monotonic() if now is None else now
        samples = self.samples.setdefault(instance, deque())
        samples.append((moment, handled, failed))
        while len(samples) > 2 and samples[1][0] < moment - self.window_s:
            samples.popleft()

    def handled_per_s(self) -> float | None:
        """Frames handled per second in the world over the window; None before two heartbeats."""
        rate, known = 0.0, False
        for samples in self.samples.values():
            if len(samples) >= 2 and samples[-1][0] > samples[0][0]:
                known = True
                rate += max(0, samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
        return round(rate, 1) if known else None

    def failed(self) -> int:
        """Handler failures in the world, as the instances last reported them."""
        return sum(samples[-1][2] for samples in self.samples.values() if samples)

    async def start(self, ops_bus: Any) -> None:
        """Follow the actors' heartbeats on ``ops_bus``."""

        async def receive(msg: Any) -> None:
            try:
                frame = ops_bus.decode(msg.data, msg.subject)
            except Exception:  # noqa: BLE001  (a heartbeat of another version: skip it)
                return
            payload = frame.payload
            for count in getattr(payload, "worlds", ()) or ():
                if count.world == self.world:
                    self.record(str(getattr(payload, "instance", msg.subject)), count.handled, count.failed)

        self._subscription = await ops_bus.nc.subscribe("lw.sys.heartbeat.actor.*", cb=receive)

    async def stop(self) -> None:
        """Stop following."""
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception:  # noqa: BLE001  (the bus may be closed already)
                pass


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
        handled_per_s: frames the actors handled per second in the world (their heartbeats' counts).
        handler_failures: handler failures in the world, from the same counts.
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

    handled_per_s: float | None = None
    handler_failures: int = 0
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


async def glance(
    pool: asyncpg.Pool, world: str, *, live_per_s: float, ops_bus: Any | None, counters: ActorCounters | None = None
) -> OperationsGlance:
    """Everything the operations page shows."""
    result = OperationsGlance(live_per_s=round(live_per_s, 2))
    if counters is not None:
        result.handled_per_s, result.handler_failures = counters.handled_per_s(), counters.failed()
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
