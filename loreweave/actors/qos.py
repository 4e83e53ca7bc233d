"""QoS (performance-mode): switches a world between ``full``, ``reduced`` and ``scripted`` quality.

Each ``qos.sample`` (an AI call's latency and the queue depth seen) votes for a level: the
p95 latency of the last ``window`` samples and the latest queue depth against thresholds.
Hysteresis keeps a world from flapping: degrading needs ``hold`` votes in a row, recovering
needs ``2 * hold`` votes in a row below the (lower) recovery thresholds and goes up one level
at a time. A failed call counts as a sample at the ``scripted`` threshold.

Consumes: ``qos.sample``, ``world.closed``. Answers ``qos.get_status``. Emits: ``qos.level_changed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import ConfigError
from loreweave.schemas import QOS_LEVELS, QosGetStatus, QosLevel, QosLevelChanged, QosSample, QosStatus, WorldClosed


@dataclass(frozen=True)
class QosThresholds:
    """Where the levels change. Degrade above ``*_ms``/``*_queue``; recover below ``recover_*``."""

    reduced_ms: float = 1500.0
    scripted_ms: float = 4000.0
    recover_ms: float = 800.0
    reduced_queue: int = 32
    scripted_queue: int = 128
    recover_queue: int = 8
    window: int = 20
    hold: int = 5

    def __post_init__(self) -> None:
        if not self.recover_ms < self.reduced_ms < self.scripted_ms:
            raise ConfigError("qos.thresholds", "need recover_ms < reduced_ms < scripted_ms")
        if not self.recover_queue < self.reduced_queue < self.scripted_queue:
            raise ConfigError("qos.thresholds", "need recover_queue < reduced_queue < scripted_queue")
        if self.window < 1 or self.hold < 1:
            raise ConfigError("qos.thresholds", "window and hold must be >= 1")


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


class QosWorld(BaseModel):
    """One world's level and recent samples."""

    level: QosLevel = "full"
    latencies: list[float] = Field(default_factory=list)
    queue_depth: int = 0
    samples: int = 0
    worse_votes: int = 0
    better_votes: int = 0


class QosState(BaseModel):
    """Every world's quality level."""

    worlds: dict[str, QosWorld] = Field(default_factory=dict)


class Qos(GameActor[QosState]):
    """Chooses each world's quality level from AI latency and queue depth."""

    name = "qos"

    def __init__(self, *, seed: int = 0, thresholds: QosThresholds | None = None, heartbeat_s: float = 5.0) -> None:
        super().__init__(QosState(), seed=seed, heartbeat_s=heartbeat_s)
        self.thresholds = thresholds or QosThresholds()

    def vote(self, w: QosWorld) -> tuple[QosLevel | None, str]:
        """The level the current samples ask for (``None``: inside the hysteresis band) and why."""
        t, latency, queue = self.thresholds, p95(w.latencies), w.queue_depth
        if latency > t.scripted_ms or queue > t.scripted_queue:
            return "scripted", f"p95 {latency:.0f} ms, queue {queue}"
        if latency > t.reduced_ms or queue > t.reduced_queue:
            return "reduced", f"p95 {latency:.0f} ms, queue {queue}"
        if latency < t.recover_ms and queue < t.recover_queue:
            return "full", f"recovered: p95 {latency:.0f} ms, queue {queue}"
        return None, ""

    @on("lw.*.qos.sample", key=lambda frame: frame.world)
    async def sample(self, event: QosSample, ctx: Context) -> None:
        """Add a sample; switch level when the votes have held long enough."""
        t = self.thresholds
        w = self.state.worlds.setdefault(ctx.frame.world, QosWorld())
        w.latencies.append(event.latency_ms if event.ok else max(event.latency_ms, t.scripted_ms + 1))
        del w.latencies[: -t.window]
        w.queue_depth, w.samples = event.queue_depth, w.samples + 1
        wanted, reason = self.vote(w)
        rank = QOS_LEVELS.index
        if wanted is not None and rank(wanted) > rank(w.level):
            w.worse_votes, w.better_votes = w.worse_votes + 1, 0
            if w.worse_votes >= t.hold:
                await self._switch(ctx, w, wanted, reason)
        elif wanted is not None and rank(wanted) < rank(w.level):
            w.better_votes, w.worse_votes = w.better_votes + 1, 0
            if w.better_votes >= 2 * t.hold:
                await self._switch(ctx, w, QOS_LEVELS[rank(w.level) - 1], reason)
        else:
            w.worse_votes = w.better_votes = 0

    async def _switch(self, ctx: Context, w: QosWorld, level: QosLevel, reason: str) -> None:
        previous, w.level = w.level, level
        w.worse_votes = w.better_votes = 0
        await ctx.emit(QosLevelChanged(
            level=level, previous=previous, reason=reason, p95_ms=p95(w.latencies), queue_depth=w.queue_depth))

    @reply("lw.rpc.*.qos.get_status", key=lambda frame: frame.world)
    async def get_status(self, event: QosGetStatus, ctx: Context) -> QosStatus:
        """The world's level and the figures behind it."""
        w = self.state.worlds.get(ctx.frame.world, QosWorld())
        return QosStatus(level=w.level, p95_ms=p95(w.latencies), queue_depth=w.queue_depth, samples=w.samples)

    @on("lw.*.world.closed", key=lambda frame: frame.world)
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)
