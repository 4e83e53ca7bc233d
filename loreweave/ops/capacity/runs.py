"""File-level entry points of the simulator, as ``ops simulate`` and ``ops recommend`` run them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from loreweave.ops.capacity.engine import simulate
from loreweave.ops.capacity.from_serve import with_serve_settings
from loreweave.ops.capacity.model import CapacityModel, load_capacity_model
from loreweave.ops.capacity.recommend import Recommendation, fixed_capacity_model, recommend
from loreweave.ops.capacity.report import plot_result
from loreweave.ops.capacity.results import SimulationResult
from loreweave.ops.capacity.trace import load_trace


@dataclass
class SimulationRun:
    """A simulation of one trace: the autoscaled result, the baseline, and the PNG."""

    result: SimulationResult
    baseline: SimulationResult | None
    plot: Path | None


def load_model(config: Path, serve: Path | None = None) -> CapacityModel:
    """The capacity model, with the Serve config's tier settings if ``serve`` is given."""
    model = load_capacity_model(config)
    return with_serve_settings(model, serve) if serve is not None else model


def simulate_files(
    trace: Path, config: Path, *, serve: Path | None = None, out: Path | None = None,
    baseline: bool = True, progress: Callable[[str, int, int], None] | None = None,
) -> SimulationRun:
    """Simulate ``trace`` under the model in ``config``; with ``out``, draw ``<out>/<trace>.png``."""
    model = load_model(config, serve)
    demand = load_trace(trace)
    result = simulate(model, demand, progress=progress)
    fixed = simulate(fixed_capacity_model(model, demand), demand, label="fixed capacity") if baseline else None
    plot = plot_result(result, Path(out) / f"{demand.name}.png", fixed) if out is not None else None
    return SimulationRun(result, fixed, plot)


def recommend_files(
    traces: Sequence[Path], config: Path, *, serve: Path | None = None, out: Path | None = None,
    on_try: Callable[[], None] | None = None,
) -> list[Recommendation]:
    """Recommend settings for each trace; also simulate the model as configured, for comparison.

    With ``out``, draw ``<out>/<trace>-recommended.png`` for each trace.
    """
    model = load_model(config, serve)
    recommendations = []
    for path in traces:
        demand = load_trace(path)
        chosen = recommend(model, demand, on_try=on_try)
        chosen.current = simulate(model, demand, label="as configured")
        if out is not None:
            plot_result(chosen.autoscaled, Path(out) / f"{demand.name}-recommended.png", chosen.baseline)
        recommendations.append(chosen)
    return recommendations
