"""Settings search: the cheapest autoscaling settings per tier that meet the SLO, and a fixed baseline."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from loreweave.ops.capacity.engine import simulate, simulate_tier
from loreweave.ops.capacity.model import CapacityModel, TierModel, replicas_for
from loreweave.ops.capacity.results import SimulationResult, TierResult
from loreweave.ops.capacity.trace import Trace

#: Fractions of ``max_ongoing_requests`` tried as ``target_ongoing_requests``.
TARGET_FRACTIONS = (0.25, 0.5, 0.75)
DOWNSCALING_FACTORS = (1.0, 0.3)
DOWNSCALE_DELAYS_S = (300.0, 900.0)
MIN_REPLICAS = (1, 2)
#: Head room over the replicas the peak needs, for max_replicas.
PEAK_HEADROOM = 1.25


@dataclass
class Objective:
    """What a tier must meet: p95 within its SLO, few late and few dropped requests."""

    max_late_pct: float = 1.0
    max_dropped_pct: float = 0.1

    def met(self, result: TierResult) -> bool:
        """True if ``result`` meets the objective."""
        requests = max(result.requests, 1.0)
        return (result.percentile(95) <= result.slo_latency_s
                and 100 * result.late / requests <= self.max_late_pct
                and 100 * result.dropped / requests <= self.max_dropped_pct)

    def shortfall(self, result: TierResult) -> float:
        """Late and dropped share, for ranking settings when none meets the objective."""
        return (result.late + result.dropped) / max(result.requests, 1.0)


@dataclass
class TierRecommendation:
    """The chosen settings of one tier and how they did."""

    tier: TierModel
    result: TierResult
    met: bool
    tried: int

    def settings(self) -> dict[str, Any]:
        """The settings to copy into serve.yaml (autoscaling_config) and cluster.yaml (nodes)."""
        scaling = self.tier.autoscaling
        return {
            "autoscaling_config": {
                "min_replicas": scaling.min_replicas,
                "max_replicas": scaling.max_replicas,
                "target_ongoing_requests": scaling.target_ongoing_requests,
                "upscale_delay_s": scaling.upscale_delay_s,
                "downscale_delay_s": scaling.downscale_delay_s,
                "downscaling_factor": scaling.downscaling_factor,
            },
            "nodes": {"min_workers": self.tier.nodes.min_workers, "max_workers": self.tier.nodes.max_workers},
        }


@dataclass
class Recommendation:
    """Recommended settings for a trace, their simulation, and the fixed-capacity baseline."""

    trace_name: str
    tiers: dict[str, TierRecommendation]
    model: CapacityModel
    autoscaled: SimulationResult
    baseline: SimulationResult
    current: SimulationResult | None = field(default=None)


def _with(tier: TierModel, autoscaling: dict[str, Any], nodes: dict[str, Any]) -> TierModel:
    return tier.model_copy(update={
        "autoscaling": tier.autoscaling.model_copy(update=autoscaling),
        "nodes": tier.nodes.model_copy(update=nodes),
    })


def peak_rate(tier: TierModel, trace: Trace) -> float:
    """Requests per second at the trace's peak."""
    return trace.peak * tier.requests_per_player_per_min / 60.0


def fixed_tier(tier: TierModel, trace: Trace) -> TierModel:
    """The tier with a fixed replica count sized for the trace's peak, all on demand, always on."""
    replicas = replicas_for(tier, peak_rate(tier, trace))
    nodes = math.ceil(replicas / tier.nodes.replicas_per_node)
    return _with(tier, {"min_replicas": replicas, "max_replicas": replicas},
                 {"min_workers": nodes, "max_workers": nodes, "spot": False,
                  "spot_interruptions_per_hour": 0.0})


def fixed_capacity_model(model: CapacityModel, trace: Trace) -> CapacityModel:
    """The baseline: every tier at :func:`fixed_tier`."""
    return model.model_copy(update={"tiers": {n: fixed_tier(t, trace) for n, t in model.tiers.items()}})


def candidates(tier: TierModel, trace: Trace) -> list[TierModel]:
    """The settings tried for a tier: target, downscaling, minimum; max sized for the peak."""
    tried = []
    for fraction, factor, delay, minimum in itertools.product(
        TARGET_FRACTIONS, DOWNSCALING_FACTORS, DOWNSCALE_DELAYS_S, MIN_REPLICAS
    ):
        target = max(1.0, round(tier.replica.max_ongoing_requests * fraction))
        sized = tier.model_copy(update={
            "autoscaling": tier.autoscaling.model_copy(update={"target_ongoing_requests": target})})
        maximum = max(minimum, math.ceil(PEAK_HEADROOM * replicas_for(sized, peak_rate(tier, trace))))
        rpn = tier.nodes.replicas_per_node
        tried.append(_with(tier, {
            "target_ongoing_requests": target, "min_replicas": minimum, "max_replicas": maximum,
            "downscaling_factor": factor, "downscale_delay_s": delay,
        }, {"min_workers": math.ceil(minimum / rpn), "max_workers": math.ceil(maximum / rpn)}))
    return tried


def recommend_tier(
    name: str, tier: TierModel, model: CapacityModel, trace: Trace,
    objective: Objective | None = None, on_try: Callable[[], None] | None = None,
) -> TierRecommendation:
    """The cheapest candidate that meets ``objective``; else the one with the least shortfall."""
    objective = objective or Objective()
    best: tuple[tuple[float, float], TierModel, TierResult] | None = None
    tried = candidates(tier, trace)
    for candidate in tried:
        result = simulate_tier(name, candidate, model, trace)
        met = objective.met(result)
        key = (0.0 if met else objective.shortfall(result), result.cost)
        if best is None or key < best[0]:
            best = (key, candidate, result)
        if on_try is not None:
            on_try()
    assert best is not None
    return TierRecommendation(best[1], best[2], objective.met(best[2]), len(tried))


def recommend(
    model: CapacityModel, trace: Trace, objective: Objective | None = None,
    on_try: Callable[[], None] | None = None,
) -> Recommendation:
    """Recommend settings per tier for ``trace`` and simulate them beside the fixed baseline."""
    chosen = {name: recommend_tier(name, tier, model, trace, objective, on_try)
              for name, tier in model.tiers.items()}
    tuned = model.model_copy(update={"tiers": {n: r.tier for n, r in chosen.items()}})
    autoscaled = simulate(tuned, trace, label="recommended")
    baseline = simulate(fixed_capacity_model(model, trace), trace, label="fixed capacity")
    return Recommendation(trace.name, chosen, tuned, autoscaled, baseline)


def candidate_count(model: CapacityModel) -> int:
    """How many tier simulations :func:`recommend` runs (for a progress bar)."""
    per_tier = len(TARGET_FRACTIONS) * len(DOWNSCALING_FACTORS) * len(DOWNSCALE_DELAYS_S) * len(MIN_REPLICAS)
    return per_tier * len(model.tiers)
