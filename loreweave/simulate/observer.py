"""What the simulated game server sees on the bus: reactions to its frames, and what they say."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
from nats.aio.client import Client
from nats.aio.msg import Msg

from loreweave.actors.runtime import Bus
from loreweave.protocol import DLQ_SUBJECT

#: The source of every frame the simulator sends.
SOURCE = "game-server"
_NARRATIVE = ("narrative.beat", "narrative.hook", "narrative.ambience")


@dataclass(frozen=True)
class Percentiles:
    """Latency figures in milliseconds."""

    count: int = 0
    p50: float = math.nan
    p95: float = math.nan
    p99: float = math.nan
    max: float = math.nan

    @classmethod
    def of(cls, samples: list[float]) -> Percentiles:
        """Nearest-rank percentiles of ``samples``."""
        if not samples:
            return cls()
        ordered = sorted(samples)

        def rank(q: float) -> float:
            return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 2)

        return cls(len(ordered), rank(0.50), rank(0.95), rank(0.99), round(ordered[-1], 2))


@dataclass
class Observer:
    """Subscribes to a world and matches each actor frame to the simulator frame that caused it."""

    world: str
    sent_at: dict[str, float] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    request_ms: list[float] = field(default_factory=list)
    actor_frames: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    npc_regions: dict[str, str] = field(default_factory=dict)
    quest_outcomes: dict[tuple[str, str], str] = field(default_factory=dict)
    quests_completed: int = 0
    quests_failed: int = 0
    refused: set[str] = field(default_factory=set)
    _subscriptions: list[Any] = field(default_factory=list)

    async def start(self, bus: Bus | Client, *, dead_letters: bool = True) -> None:
        """Subscribe (on the bus's connection, or on ``bus`` itself when it is a NATS client) to
        the world's events and (unless told not to) to dead letters.

        A game server's credential may not read dead letters: an operator's view, not a player's.
        """
        nc = bus.nc if isinstance(bus, Bus) else bus
        self._subscriptions = [
            await nc.subscribe(f"lw.{self.world}.*.*", cb=self._on_frame, pending_msgs_limit=1_000_000),
        ]
        if dead_letters:
            self._subscriptions.append(await nc.subscribe("lw.dlq.*", cb=self._on_dead_letter))
        await nc.flush()

    async def stop(self) -> None:
        """Unsubscribe."""
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        self._subscriptions.clear()

    def sent(self, frame_id: str) -> None:
        """Note that a frame is being published now."""
        self.sent_at[frame_id] = time.perf_counter()

    @property
    def reacted(self) -> int:
        """Sent frames that caused at least one actor frame."""
        return len(self.latencies_ms)

    @property
    def narrative(self) -> int:
        """Narrative frames seen (beats, hooks, ambience)."""
        return sum(self.by_type.get(kind, 0) for kind in _NARRATIVE)

    def forget_older_than(self, seconds: float) -> None:
        """Drop sent frames no reaction came for (most events cause none), to bound memory."""
        cutoff = time.perf_counter() - seconds
        for frame_id in [fid for fid, at in self.sent_at.items() if at < cutoff]:
            del self.sent_at[frame_id]

    async def _on_frame(self, msg: Msg) -> None:
        now = time.perf_counter()
        try:  # the envelope only: validating every payload would slow the game server down
            wire = msgpack.unpackb(msg.data, raw=False)
            source, kind, cause, payload = wire["source"], wire["type"], wire["causation_id"], wire["payload"]
        except Exception:  # noqa: BLE001  (not a frame: nothing to match)
            return
        if source == SOURCE:
            return
        self.actor_frames += 1
        self.by_type[kind] = self.by_type.get(kind, 0) + 1
        sent = self.sent_at.pop(cause, None) if cause else None
        if sent is not None:
            self.latencies_ms.append((now - sent) * 1000)
        if kind == "npc.moved":
            self.npc_regions[payload["npc_id"]] = payload["to_region"]
        elif kind in ("quest.completed", "quest.failed"):
            outcome = kind.partition(".")[2]
            self.quest_outcomes[(payload["player_id"], payload["quest_id"])] = outcome
            if outcome == "completed":
                self.quests_completed += 1
            else:
                self.quests_failed += 1
        elif kind == "version.refused":
            self.refused.add(payload["component_id"])

    async def _on_dead_letter(self, msg: Msg) -> None:
        try:
            world = msgpack.unpackb(msg.data, raw=False).get("world")
        except Exception:  # noqa: BLE001  (a dead letter may be any bytes)
            world = None
        if world in (self.world, None) or (msg.headers or {}).get(DLQ_SUBJECT, "").startswith(f"lw.{self.world}."):
            self.dead_letters += 1
