"""What a simulation produces: per-tier timelines, request latencies and costs, and their summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loreweave.ops.prices import HOURS_PER_MONTH


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` counted ``weights`` times each."""
    if len(values) == 0 or float(weights.sum()) <= 0:
        return float("nan")
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    index = int(np.searchsorted(cumulative, q / 100.0 * cumulative[-1], side="left"))
    return float(values[order][min(index, len(order) - 1)])


@dataclass
class TierTimeline:
    """One value per simulation step for one tier."""

    t_s: np.ndarray
    players: np.ndarray
    arrivals: np.ndarray
    admitted: np.ndarray
    #: Rejected (queue full) or timed out in the queue.
    dropped: np.ndarray
    #: Admitted, then lost in flight with a reclaimed spot node.
    lost: np.ndarray
    queued: np.ndarray
    target_replicas: np.ndarray
    ready_replicas: np.ndarray
    starting_replicas: np.ndarray
    nodes_on_demand: np.ndarray
    nodes_spot: np.ndarray
    nodes_booting: np.ndarray
    cost: np.ndarray


@dataclass
class TierResult:
    """The outcome of simulating one tier over a trace."""

    name: str
    step_s: float
    timeline: TierTimeline
    #: Latency of admitted requests: the step they were admitted at, seconds, and how many.
    latency_step: np.ndarray
    latency_s: np.ndarray
    latency_weight: np.ndarray
    slo_latency_s: float
    price_on_demand: float
    price_spot: float
    queued_at_end: float
    interruptions: int = 0

    @property
    def requests(self) -> float:
        """Requests that arrived."""
        return float(self.timeline.arrivals.sum())

    @property
    def dropped(self) -> float:
        """Requests rejected, timed out in the queue, or lost with an interrupted node."""
        return float(self.timeline.dropped.sum() + self.timeline.lost.sum())

    @property
    def late(self) -> float:
        """Admitted requests whose latency exceeded the SLO."""
        return float(self.latency_weight[self.latency_s > self.slo_latency_s].sum())

    @property
    def cost(self) -> float:
        """Dollars spent on this tier's nodes over the trace."""
        return float(self.timeline.cost.sum())

    @property
    def hours(self) -> float:
        """Length of the simulated trace in hours."""
        return len(self.timeline.t_s) * self.step_s / 3600.0

    @property
    def node_hours(self) -> tuple[float, float]:
        """(on-demand, spot) node-hours, booting nodes included: they are billed."""
        hour = self.step_s / 3600.0
        return float(self.timeline.nodes_on_demand.sum() * hour), float(self.timeline.nodes_spot.sum() * hour)

    def percentile(self, q: float) -> float:
        """Latency percentile of admitted requests, in seconds."""
        return weighted_percentile(self.latency_s, self.latency_weight, q)


@dataclass
class SimulationResult:
    """All tiers over one trace, plus the always-on nodes."""

    trace_name: str
    peak_players: float
    mean_players: float
    hours: float
    fixed_cost_per_hour: float
    tiers: dict[str, TierResult] = field(default_factory=dict)
    label: str = "autoscaled"

    @property
    def cost(self) -> float:
        """Dollars over the trace: tier nodes plus always-on nodes."""
        return sum(t.cost for t in self.tiers.values()) + self.fixed_cost_per_hour * self.hours

    @property
    def cost_per_hour(self) -> float:
        """Mean dollars per hour."""
        return self.cost / self.hours if self.hours else 0.0

    @property
    def cost_per_player_month(self) -> float:
        """Dollars per month per peak concurrent player, if every day were like this trace."""
        return self.cost_per_hour * HOURS_PER_MONTH / self.peak_players if self.peak_players else 0.0

    def summary_rows(self) -> list[dict[str, float | str]]:
        """One row per tier (and a total) of the figures ``ops simulate`` prints."""
        rows: list[dict[str, float | str]] = []
        for name, tier in self.tiers.items():
            on_demand, spot = tier.node_hours
            rows.append({
                "tier": name,
                "requests": tier.requests,
                "p50_s": tier.percentile(50),
                "p95_s": tier.percentile(95),
                "p99_s": tier.percentile(99),
                "late_pct": 100 * tier.late / tier.requests if tier.requests else 0.0,
                "dropped_pct": 100 * tier.dropped / tier.requests if tier.requests else 0.0,
                "replicas_mean": float(tier.timeline.ready_replicas.mean()),
                "replicas_max": float(tier.timeline.ready_replicas.max()),
                "nodes_max": float((tier.timeline.nodes_on_demand + tier.timeline.nodes_spot).max()),
                "node_hours_od": on_demand,
                "node_hours_spot": spot,
                "cost_per_hour": tier.cost / tier.hours if tier.hours else 0.0,
            })
        return rows
