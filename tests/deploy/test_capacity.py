"""The capacity simulator: invariants, Serve fidelity, spikes, refusals, reports and the CLI."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loreweave.cli.ops import ops_group
from loreweave.ops.capacity import (
    Objective,
    ServePolicy,
    fixed_capacity_model,
    load_model,
    load_trace,
    plot_result,
    recommend,
    simulate,
    simulate_tier,
    write_trace,
)
from loreweave.ops.capacity.model import AutoscalingModel
from loreweave.protocol.errors import ConfigError

from .conftest import MODEL, SERVE, TRACES, ramp_trace, small_model

levels = st.lists(st.integers(min_value=0, max_value=1200), min_size=2, max_size=6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(levels=levels, spot=st.booleans(), interruptions=st.sampled_from([0.0, 2.0]))
def test_replicas_nodes_and_cost_stay_within_their_bounds(levels: list[int], spot: bool,
                                                          interruptions: float) -> None:
    model = small_model(nodes={"spot": spot, "spot_interruptions_per_hour": interruptions})
    tier = model.tiers["gold"]
    result = simulate_tier("gold", tier, model, ramp_trace("ramp", levels, minutes_each=15))
    timeline = result.timeline
    scaling, nodes = tier.autoscaling, tier.nodes
    assert timeline.target_replicas.min() >= scaling.min_replicas
    assert timeline.target_replicas.max() <= scaling.max_replicas
    assert timeline.ready_replicas.max() <= scaling.max_replicas
    running = timeline.nodes_on_demand + timeline.nodes_spot
    assert running.max() <= nodes.max_workers
    assert timeline.nodes_on_demand.min() >= nodes.min_workers
    assert (timeline.ready_replicas + timeline.starting_replicas <= running * nodes.replicas_per_node).all()
    if not spot:
        assert timeline.nodes_spot.max() == 0
    # Cost is the integral of running (and booting) nodes times their market's price.
    integral = float(np.sum(timeline.nodes_on_demand * result.price_on_demand
                            + timeline.nodes_spot * result.price_spot) * model.step_s / 3600.0)
    assert result.cost == pytest.approx(integral)
    # Every request is admitted, dropped, or still queued at the end.
    assert timeline.admitted.sum() + timeline.dropped.sum() + result.queued_at_end == pytest.approx(
        timeline.arrivals.sum(), rel=1e-6, abs=1e-6)


def test_total_cost_adds_the_always_on_nodes() -> None:
    model = small_model()
    trace = ramp_trace("flat", [300, 300], minutes_each=30)
    result = simulate(model, trace)
    assert result.hours == pytest.approx(1.0)
    assert result.cost == pytest.approx(result.tiers["gold"].cost + model.fixed_cost_per_hour())
    assert result.cost_per_player_month == pytest.approx(result.cost_per_hour * 730 / 300)


def test_a_spike_beyond_max_capacity_drops_or_delays_requests() -> None:
    # 3,000 players x 6 req/min = 300 req/s; four replicas complete at most 4 x 32 / 0.8 = 160 req/s.
    trace = ramp_trace("spike", [200, 3000, 3000, 200], minutes_each=20)
    capped = small_model(autoscaling={"max_replicas": 4}, nodes={"max_workers": 4})
    roomy = small_model(autoscaling={"max_replicas": 16}, nodes={"max_workers": 16})
    short = simulate_tier("gold", capped.tiers["gold"], capped, trace)
    ample = simulate_tier("gold", roomy.tiers["gold"], roomy, trace)
    assert short.timeline.ready_replicas.max() == 4
    assert short.dropped / short.requests > 0.2
    assert (short.late + short.dropped) > 5 * (ample.late + ample.dropped)
    assert ample.timeline.ready_replicas.max() > 4


def test_node_start_delay_shows_as_queueing_before_capacity_arrives() -> None:
    model = small_model(autoscaling={"max_replicas": 16, "upscale_delay_s": 0}, nodes={"max_workers": 16})
    trace = ramp_trace("step", [100, 2000], minutes_each=20)
    result = simulate_tier("gold", model.tiers["gold"], model, trace)
    step = int(20 * 60 / model.step_s)
    first_ready = next(i for i in range(step, len(trace.players) * 6) if result.timeline.ready_replicas[i] > 2)
    delay_s = (first_ready - step) * model.step_s
    # The node needs 120 s to start and the replica 30 s more before it takes requests.
    assert 150 <= delay_s <= 200
    assert result.timeline.dropped[step:first_ready].sum() > 0


def test_serve_policy_matches_ray_serves_own_decisions() -> None:
    from ray.serve.autoscaling_policy import _apply_delay_logic, _apply_scaling_factors
    from ray.serve.config import AutoscalingConfig

    rng = random.Random(5)
    for case in range(20):
        settings_ = {"min_replicas": rng.randint(0, 2), "max_replicas": rng.randint(3, 12),
                     "target_ongoing_requests": rng.choice([4, 16, 32]),
                     "upscale_delay_s": rng.choice([0, 10, 30]), "downscale_delay_s": rng.choice([0, 60, 300]),
                     "upscaling_factor": rng.choice([1.0, 0.5]), "downscaling_factor": rng.choice([1.0, 0.3])}
        ours = ServePolicy(AutoscalingModel(**settings_))
        theirs = AutoscalingConfig(**settings_)
        state: dict[str, object] = {}
        target = running = settings_["min_replicas"]
        for step in range(200):
            now = step * 5.0
            total = rng.uniform(0, 400)
            if running == 0 and total > 0:
                expected = max(math.ceil(theirs.get_upscaling_factor()), target)
            else:
                desired = target if running == 0 else total / theirs.get_target_ongoing_requests()
                scaled = _apply_scaling_factors(desired, running, theirs)
                expected, state = _apply_delay_logic(max(0, scaled), target, theirs, state, _now=now)
            expected = max(theirs.min_replicas, min(theirs.max_replicas, expected))
            got = ours.decide(now, total, running, target)
            assert got == expected, (case, step)
            target = got
            running = max(0, min(target, running + rng.choice([-1, 0, 1, 2])))


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"autoscaling": {"target_ongoing_requests": 64}}, "tiers.gold",
     "target_ongoing_requests (64) must be <= replica.max_ongoing_requests (32)"),
    ({"autoscaling": {"max_replicas": 9}}, "tiers.gold",
     "max_replicas (9) exceeds nodes.max_workers x replicas_per_node (6)"),
    ({"replica": {"latency_curve": [[8, 1.0], [4, 2.0]]}}, "tiers.gold.replica.latency_curve",
     "concurrency must increase"),
    ({"nodes": {"instance_type": "g9.huge"}}, "model", "no price known for 'g9.huge'"),
    ({"requests_per_player": 3}, "tiers.gold.requests_per_player", "is not a known field"),
])
def test_bad_capacity_model_is_refused_with_field_and_reason(change: dict[str, object], field: str,
                                                             reason: str) -> None:
    with pytest.raises(ConfigError) as refused:
        small_model(**change)
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_bad_trace_is_refused_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_text("minute,players\n0,10\n1,ten\n")
    with pytest.raises(ConfigError) as refused:
        load_trace(path)
    assert refused.value.field == f"{path}:3"
    path.write_text("minute,players\n0,10\n0,12\n")
    with pytest.raises(ConfigError, match="minute must increase"):
        load_trace(path)


def test_recommendation_meets_the_objective_for_less_than_fixed_capacity() -> None:
    model = small_model(autoscaling={"max_replicas": 12}, nodes={"max_workers": 12})
    trace = ramp_trace("day", [150, 400, 1400, 1400, 600, 150], minutes_each=20)
    chosen = recommend(model, trace, Objective(max_late_pct=1.0, max_dropped_pct=0.5))
    tier = chosen.tiers["gold"]
    assert tier.met and tier.tried == 24
    assert chosen.autoscaled.cost < chosen.baseline.cost
    baseline = fixed_capacity_model(model, trace).tiers["gold"]
    assert baseline.autoscaling.min_replicas == baseline.autoscaling.max_replicas
    assert not baseline.nodes.spot


def test_shipped_traces_and_model_load(tmp_path: Path) -> None:
    traces = {p.stem: load_trace(p) for p in sorted(TRACES.glob("*.csv"))}
    assert set(traces) == {"diurnal-1k", "diurnal-10k", "launch-spike"}
    assert traces["diurnal-1k"].peak == 1000 and traces["diurnal-10k"].peak == 10000
    assert traces["launch-spike"].peak > 2 * traces["diurnal-10k"].peak
    model = load_model(MODEL, SERVE)
    assert model.tiers["gold"].timeout_s == 1.5  # the Serve config's latency budget
    again = load_trace(write_trace(traces["diurnal-1k"], tmp_path / "copy.csv"))
    assert np.array_equal(again.players, traces["diurnal-1k"].players)


def test_plot_is_a_png(tmp_path: Path) -> None:
    model = small_model()
    trace = ramp_trace("day", [100, 900, 300], minutes_each=20)
    path = plot_result(simulate(model, trace), tmp_path / "day.png",
                       simulate(fixed_capacity_model(model, trace), trace, label="fixed capacity"))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_cli_simulate_prints_the_table_and_writes_the_plot(tmp_path: Path) -> None:
    trace = write_trace(ramp_trace("short", [100, 900, 300], minutes_each=10), tmp_path / "short.csv")
    config = tmp_path / "model.yaml"
    import yaml

    config.write_text(yaml.safe_dump(small_model().model_dump(mode="json")))
    result = CliRunner().invoke(ops_group, ["simulate", "--trace", str(trace), "--config", str(config),
                                            "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "fixed" in result.output and "player-month" in result.output and "autoscaled" in result.output
    assert (tmp_path / "out" / "short.png").stat().st_size > 20_000
