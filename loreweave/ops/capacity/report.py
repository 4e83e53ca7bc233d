"""Reports of a simulation: a rich table for the terminal and a PNG of the day."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
from rich.table import Table

from loreweave.ops.capacity.results import SimulationResult, TierResult, weighted_percentile
from loreweave.ops.prices import PRICES_AS_OF

if TYPE_CHECKING:
    from loreweave.ops.capacity.recommend import Recommendation


def summary_table(results: Sequence[SimulationResult]) -> Table:
    """One row per tier per result, plus a total row per result."""
    table = Table(title=f"Capacity simulation (prices {PRICES_AS_OF})", show_lines=False)
    for column, justify in (
        ("run", "left"), ("tier", "left"), ("requests", "right"), ("p50 s", "right"),
        ("p95 s", "right"), ("p99 s", "right"), ("late %", "right"), ("dropped %", "right"),
        ("replicas mean/max", "right"), ("node-h od/spot", "right"), ("$/h", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        run = f"{result.label} · {result.trace_name}"
        for row in result.summary_rows():
            table.add_row(
                run, str(row["tier"]), f"{row['requests']:,.0f}", f"{row['p50_s']:.2f}",
                f"{row['p95_s']:.2f}", f"{row['p99_s']:.2f}", f"{row['late_pct']:.2f}",
                f"{row['dropped_pct']:.2f}", f"{row['replicas_mean']:.1f}/{row['replicas_max']:.0f}",
                f"{row['node_hours_od']:.0f}/{row['node_hours_spot']:.0f}", f"{row['cost_per_hour']:.2f}",
            )
            run = ""
        table.add_row(
            "", "[b]total[/b]", "", "", "", "", "", "", "", "fixed "
            f"${result.fixed_cost_per_hour:.2f}/h",
            f"[b]{result.cost_per_hour:.2f}[/b]",
        )
        table.add_row(
            "", "", "", "", "", "", "", "", "", "per peak player-month",
            f"[b]${result.cost_per_player_month:.3f}[/b]", end_section=True,
        )
    return table


def windowed_latency(tier: TierResult, window_s: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Latency percentile ``q`` of admitted requests per window: (window start hours, seconds)."""
    steps_per_window = max(1, int(round(window_s / tier.step_s)))
    windows = int(np.ceil(len(tier.timeline.t_s) / steps_per_window))
    index = tier.latency_step // steps_per_window
    values = np.full(windows, np.nan)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(windows + 1))
    for window in range(windows):
        chosen = order[bounds[window]:bounds[window + 1]]
        if len(chosen):
            values[window] = weighted_percentile(tier.latency_s[chosen], tier.latency_weight[chosen], q)
    return np.arange(windows) * steps_per_window * tier.step_s / 3600.0, values


def plot_result(result: SimulationResult, path: Path, baseline: SimulationResult | None = None) -> Path:
    """Draw players, replicas, nodes, latency and drops of every tier over the trace into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tiers = list(result.tiers.values())
    figure = plt.figure(figsize=(6.0 * len(tiers), 13), constrained_layout=True)
    grid = figure.add_gridspec(4, len(tiers), height_ratios=[1.0, 1.2, 1.2, 1.2])
    header = figure.add_subplot(grid[0, :])
    first = tiers[0].timeline
    hours = first.t_s / 3600.0
    header.plot(hours, first.players, color="black", lw=1.2, label="concurrent players")
    header.set_ylabel("players")
    header.set_xlim(0, hours[-1])
    cost_axis = header.twinx()
    hourly = np.sum([t.timeline.cost for t in tiers], axis=0) / (tiers[0].step_s / 3600.0)
    cost_axis.plot(hours, _smooth(hourly + result.fixed_cost_per_hour, 60), color="tab:green",
                   lw=1.2, label=f"{result.label} \\$/h")
    if baseline is not None:
        cost_axis.axhline(baseline.cost_per_hour, color="tab:red", ls="--", lw=1.2,
                          label=f"fixed capacity \\${baseline.cost_per_hour:.0f}/h")
    cost_axis.set_ylabel("\\$ per hour")
    cost_axis.set_ylim(bottom=0)
    lines = header.get_legend_handles_labels()[0] + cost_axis.get_legend_handles_labels()[0]
    header.legend(lines, [str(line.get_label()) for line in lines], loc="upper left", fontsize=9)
    title = (f"{result.trace_name} ({result.label}): peak {result.peak_players:,.0f} players · "
             f"\\${result.cost_per_hour:.2f}/h · \\${result.cost_per_player_month:.3f} per peak player-month")
    if baseline is not None:
        title += f" (fixed capacity \\${baseline.cost_per_player_month:.3f})"
    header.set_title(title, fontsize=12)

    for column, tier in enumerate(tiers):
        timeline = tier.timeline
        step_h = tier.step_s
        load = figure.add_subplot(grid[1, column])
        load.plot(hours, _smooth(timeline.arrivals / step_h, 12), color="black", lw=1, label="arrivals req/s")
        load.plot(hours, _smooth(timeline.admitted / step_h, 12), color="tab:blue", lw=1, label="admitted req/s")
        load.fill_between(hours, 0, _smooth(timeline.dropped / step_h, 12), color="tab:red",
                          alpha=0.6, label="dropped req/s")
        load.set_title(f"{tier.name}: load", fontsize=11)
        load.set_xlim(0, hours[-1])
        load.legend(loc="upper left", fontsize=8)

        capacity = figure.add_subplot(grid[2, column], sharex=load)
        capacity.step(hours, timeline.target_replicas, where="post", color="tab:orange", lw=1, label="target replicas")
        capacity.step(hours, timeline.ready_replicas, where="post", color="tab:blue", lw=1.2, label="ready replicas")
        capacity.stackplot(hours, timeline.nodes_on_demand, timeline.nodes_spot,
                           colors=["tab:gray", "tab:cyan"], alpha=0.35,
                           labels=["on-demand nodes", "spot nodes"])
        capacity.set_title(f"{tier.name}: replicas and nodes", fontsize=11)
        capacity.set_ylim(bottom=0)
        capacity.legend(loc="upper left", fontsize=8)

        latency = figure.add_subplot(grid[3, column], sharex=load)
        for q, color in ((50, "tab:blue"), (95, "tab:orange"), (99, "tab:red")):
            starts, values = windowed_latency(tier, 300, q)
            latency.plot(starts, values, color=color, lw=1, label=f"p{q} (5 min)")
        latency.axhline(tier.slo_latency_s, color="black", ls=":", lw=1, label="SLO")
        latency.set_title(f"{tier.name}: latency (s), p95 {tier.percentile(95):.2f} s, "
                          f"dropped {100 * tier.dropped / max(tier.requests, 1):.2f}%", fontsize=11)
        latency.set_xlabel("hour of trace")
        latency.set_ylim(bottom=0)
        latency.legend(loc="upper left", fontsize=8)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(values) < width:
        return values
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="same")


def recommendations_markdown(recommendations: Sequence["Recommendation"]) -> str:
    """A Markdown section per trace: settings per tier, and configured vs recommended vs fixed."""
    lines: list[str] = []
    for rec in recommendations:
        lines += [f"#### {rec.trace_name} (peak {rec.autoscaled.peak_players:,.0f} players)", "",
                  "| tier | min | max | target ongoing | downscale delay s | downscaling factor | "
                  "max nodes | p95 s | late % | dropped % | $/h |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, tier in rec.tiers.items():
            scaling, result = tier.tier.autoscaling, tier.result
            requests = max(result.requests, 1.0)
            flag = "" if tier.met else " (SLO not met)"
            lines.append(
                f"| {name}{flag} | {scaling.min_replicas} | {scaling.max_replicas} | "
                f"{scaling.target_ongoing_requests:g} | {scaling.downscale_delay_s:g} | "
                f"{scaling.downscaling_factor:g} | {tier.tier.nodes.max_workers} | {result.percentile(95):.2f} | "
                f"{100 * result.late / requests:.2f} | {100 * result.dropped / requests:.3f} | "
                f"{result.cost / result.hours:.2f} |")
        lines += ["", "| run | $/h | $ per peak player-month | worst tier p95 / SLO | dropped % (all tiers) |",
                  "|---|---|---|---|---|"]
        for run in (rec.current, rec.autoscaled, rec.baseline):
            if run is None:
                continue
            worst = max(t.percentile(95) / t.slo_latency_s for t in run.tiers.values())
            dropped = sum(t.dropped for t in run.tiers.values())
            requests = max(sum(t.requests for t in run.tiers.values()), 1.0)
            lines.append(f"| {run.label} | {run.cost_per_hour:.2f} | {run.cost_per_player_month:.3f} | "
                         f"{worst:.2f} | {100 * dropped / requests:.3f} |")
        lines.append("")
    return "\n".join(lines)
