"""The simulation report: what was sent, what the actors did, how fast, and what went wrong."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.table import Table

from loreweave.simulate.observer import Percentiles


@dataclass(frozen=True)
class SimulationReport:
    """Figures of one simulated session.

    Attributes:
        sent: frames the game server published (events; requests counted apart).
        reacted: sent frames at least one actor reacted to (most events only update state).
        actor_frames: frames the actors published in the world.
        handled: frames the actors handled in the world (from their heartbeats; ``None``
            without the registry actor).
        latency_ms: from publishing a frame to seeing the first frame an actor emitted because of it.
        request_ms: round trip of the game server's requests.
    """

    world: str
    players: int
    seed: int
    duration_s: float
    sent: int
    requests: int
    reacted: int
    actor_frames: int
    handled: int | None
    actor_failures: int | None
    latency_ms: Percentiles
    request_ms: Percentiles
    request_errors: dict[str, int]
    dead_letters: int
    agent_errors: int
    narrative: int
    quests_accepted: int
    quests_completed: int
    quests_failed: int
    purchases: int
    refused_clients: int
    by_type: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_s(self) -> float:
        """Frames per second on the bus in the world: sent, requests and actor frames."""
        return (self.sent + self.requests + self.actor_frames) / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        """Failed requests, failed handler runs and crashed player agents."""
        return sum(self.request_errors.values()) + (self.actor_failures or 0) + self.agent_errors

    def as_dict(self) -> dict[str, Any]:
        """Plain values (JSON-able), with the derived figures."""
        data = asdict(self)
        data["events_per_s"] = round(self.events_per_s, 1)
        data["errors"] = self.errors
        return data

    def table(self) -> Table:
        """The report as a rich table."""
        table = Table(title=f"Simulation of {self.world}: {self.players} players, {self.duration_s:.1f} s, seed {self.seed}")
        table.add_column("figure")
        table.add_column("value", justify="right")

        def ms(value: float) -> str:
            return "-" if math.isnan(value) else f"{value:.1f} ms"

        rows = [
            ("events sent (game server)", f"{self.sent:,}"),
            ("requests sent", f"{self.requests:,}"),
            ("events handled (actors)", "-" if self.handled is None else f"{self.handled:,}"),
            ("events the actors reacted to", f"{self.reacted:,}"),
            ("frames emitted by actors", f"{self.actor_frames:,}"),
            ("narrative frames", f"{self.narrative:,}"),
            ("events/s on the bus", f"{self.events_per_s:,.0f}"),
            ("reaction latency p50", ms(self.latency_ms.p50)),
            ("reaction latency p95", ms(self.latency_ms.p95)),
            ("reaction latency p99", ms(self.latency_ms.p99)),
            ("request round trip p50 / p99", f"{ms(self.request_ms.p50)} / {ms(self.request_ms.p99)}"),
            ("quests accepted / completed / failed",
             f"{self.quests_accepted} / {self.quests_completed} / {self.quests_failed}"),
            ("purchases", f"{self.purchases}"),
            ("clients refused (old builds)", f"{self.refused_clients}"),
            ("errors", f"{self.errors}" + (f" {self.request_errors}" if self.request_errors else "")),
            ("dead letters", f"{self.dead_letters}"),
        ]
        for name, value in rows:
            table.add_row(name, value)
        return table
