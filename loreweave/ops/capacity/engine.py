"""The capacity simulator: Serve autoscaling, Ray node launches, queueing and cost, step by step.

The model is a fluid FIFO queue per tier at ``step_s`` resolution:

* arrivals are players x requests per player per minute (Poisson when ``noise``);
* a request waits in the queue until a ready replica has a free slot
  (``max_ongoing_requests``); its latency is that wait plus the replica's latency at
  the concurrency it joins; a request queued past ``timeout_s`` or past
  ``max_queued_requests`` is dropped, and so are those in flight on a reclaimed spot node;
* Serve's autoscaler sets the target replicas to ``ceil(ongoing / target_ongoing_requests)``
  averaged over ``look_back_period_s``, after ``upscale_delay_s`` / ``downscale_delay_s``;
* Ray's autoscaler launches the nodes the target needs (at most
  ``max(5, upscaling_speed x running)`` pending at once), each ready after ``start_s``;
  a replica then needs ``replica.start_s`` to load its model; a node without replicas
  for ``idle_timeout_s`` is terminated, never below ``min_workers``;
* every node, booting or up, is billed per second at its market's hourly price.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from loreweave.ops.capacity.model import CapacityModel, ReplicaModel, TierModel, replicas_for
from loreweave.ops.capacity.results import SimulationResult, TierResult, TierTimeline
from loreweave.ops.capacity.serve_policy import ServePolicy
from loreweave.ops.capacity.trace import Trace

#: Called as ``progress(steps_done, steps_total)`` while a tier is simulated.
Progress = Callable[[int, int], None]
_UPSCALING_INITIAL_NODES = 5  # Ray's UPSCALING_INITIAL_NUM_NODES


@dataclass
class _Node:
    market: str
    ready_at: float
    idle_since: float | None = None


class _Curve:
    """A replica's latency curve, tabulated both ways for speed (the loop calls it every step)."""

    def __init__(self, replica: ReplicaModel, points: int = 512) -> None:
        self.concurrency = [replica.max_ongoing_requests * k / points for k in range(1, points + 1)]
        self.latency_at = [replica.latency(c) for c in self.concurrency]
        self.rate = [c / latency for c, latency in zip(self.concurrency, self.latency_at)]
        self.latency_of = replica.latency

    def at_rate(self, rate: float) -> float:
        """Requests in flight on one replica completing ``rate`` per second: c = rate x latency(c)."""
        index = bisect.bisect_left(self.rate, rate)
        if index >= len(self.rate):
            return self.concurrency[-1]
        if index == 0:
            return rate * self.latency_of(rate * self.latency_at[0])
        r0, r1 = self.rate[index - 1], self.rate[index]
        c0, c1 = self.concurrency[index - 1], self.concurrency[index]
        return c0 + (c1 - c0) * (rate - r0) / (r1 - r0)


def simulate_tier(
    name: str,
    tier: TierModel,
    model: CapacityModel,
    trace: Trace,
    *,
    progress: Progress | None = None,
    warm_start: bool = True,
) -> TierResult:
    """Simulate one tier over ``trace`` and return its timeline, latencies and cost.

    With ``warm_start`` the tier starts with the replicas its first sample needs
    (a trace that starts mid-day), else at ``min_replicas``.
    """
    dt = model.step_s
    steps = max(1, math.ceil(trace.duration_s / dt))
    t_s = np.arange(steps) * dt
    players = trace.players_at(t_s).astype(float)
    rate = players * tier.requests_per_player_per_min / 60.0
    rng = np.random.default_rng(model.seed + sum(map(ord, name)))
    arrivals = rng.poisson(rate * dt).astype(float) if model.noise else rate * dt
    interruption_p = tier.nodes.spot_interruptions_per_hour * dt / 3600.0

    scaling, replica, nodes_cfg = tier.autoscaling, tier.replica, tier.nodes
    rpn = nodes_cfg.replicas_per_node
    saturated = replica.throughput(replica.max_ongoing_requests)
    curve = _Curve(replica)
    price = {"on-demand": model.hourly(nodes_cfg.instance_type, "on-demand"),
             "spot": model.hourly(nodes_cfg.instance_type, "spot")}

    # Start in steady state: the replicas the first sample's demand settles at, on up nodes.
    initial = scaling.min_replicas
    if warm_start and rate[0] > 0:
        initial = min(scaling.max_replicas, max(initial, replicas_for(tier, float(rate[0]))))
    initial_nodes = max(nodes_cfg.min_workers, math.ceil(initial / rpn))
    nodes: list[_Node] = [
        _Node("on-demand" if i < nodes_cfg.min_workers or not nodes_cfg.spot else "spot", -math.inf)
        for i in range(initial_nodes)
    ]
    ready = initial
    starting: list[float] = []
    target = initial
    queue: deque[list[float]] = deque()
    queued = 0.0
    in_flight = 0.0  # requests running on replicas (Little's law: rate x latency)
    look_back: deque[float] = deque(maxlen=max(1, round(scaling.look_back_period_s / dt)))
    policy = ServePolicy(scaling)
    interruptions = 0

    series = {key: np.zeros(steps) for key in (
        "admitted", "dropped", "lost", "queued", "target", "ready", "starting",
        "od", "spot", "booting", "cost")}
    lat_step: list[int] = []
    lat_s: list[float] = []
    lat_w: list[float] = []

    for i in range(steps):
        t = t_s[i]
        dropped = lost = 0.0

        # Spot reclaims: the node goes, with the replicas that no longer fit and their requests.
        if interruption_p > 0:
            for node in [n for n in nodes if n.market == "spot"]:
                if rng.random() < interruption_p:
                    nodes.remove(node)
                    interruptions += 1
        up = sum(1 for n in nodes if n.ready_at <= t)
        overflow = ready + len(starting) - up * rpn
        if overflow > 0:
            lost_starting = min(overflow, len(starting))
            del starting[len(starting) - lost_starting:]
            lost_ready = min(ready, overflow - lost_starting)
            if lost_ready and ready:
                lost = in_flight * lost_ready / ready
            ready -= lost_ready

        still_starting = [ready_at for ready_at in starting if ready_at > t]
        ready += len(starting) - len(still_starting)
        starting = still_starting

        # The queue holds cohorts [first arrival, left, arrived], each spread evenly over
        # one step; the oldest requests of a cohort leave it first.
        if arrivals[i] > 0:
            queue.append([t, float(arrivals[i]), float(arrivals[i])])
            queued += arrivals[i]
        deadline = t - tier.timeout_s
        while queue and queue[0][0] < deadline:
            first, left, total = queue[0]
            expired = min(left, max(0.0, (deadline - first) / dt * total - (total - left)))
            dropped += expired
            queued = max(0.0, queued - expired)
            if expired < left - 1e-9:
                queue[0][1] = left - expired
                break
            queue.popleft()

        # Admissions are spread evenly over the step too: a request's wait is the time
        # between its place in the arrival stream and the same place in the admissions.
        admit = min(queued, ready * saturated * dt)
        in_flight = 0.0
        if admit > 1e-9:
            concurrency = curve.at_rate(admit / dt / ready)
            in_flight = concurrency * ready
            service = replica.latency(concurrency)
            done = 0.0
            while admit - done > 1e-9 and queue:
                first, left, total = queue[0]
                take = min(left, admit - done)
                arrived_at = first + (1 - left / total + take / (2 * total)) * dt
                admitted_at = t + (done + take / 2) / admit * dt
                lat_step.append(i)
                lat_s.append(max(0.0, admitted_at - arrived_at) + service)
                lat_w.append(take)
                done += take
                if take >= left - 1e-9:
                    queue.popleft()
                else:
                    queue[0][1] = left - take
            queued = max(0.0, queued - admit)
        if tier.max_queued_requests >= 0 and queued > tier.max_queued_requests:
            excess = queued - tier.max_queued_requests
            dropped += excess
            queued -= excess
            while excess > 1e-9 and queue:
                take = min(queue[-1][1], excess)
                queue[-1][1] -= take
                excess -= take
                if queue[-1][1] <= 1e-9:
                    queue.pop()

        # Serve autoscaling on the ongoing requests (running and queued).
        look_back.append(in_flight + queued)
        target = policy.decide(t, sum(look_back) / len(look_back), ready, target)

        # Replicas follow the target, as far as up nodes have room.
        if ready + len(starting) > target:
            surplus = ready + len(starting) - target
            cancel = min(surplus, len(starting))
            del starting[len(starting) - cancel:]
            ready -= surplus - cancel
        up = sum(1 for n in nodes if n.ready_at <= t)
        room = up * rpn - ready - len(starting)
        start = max(0, min(room, target - ready - len(starting)))
        starting.extend([t + replica.start_s] * start)

        # Ray autoscaler: launch the nodes the target needs, spot first beyond min_workers.
        needed = max(nodes_cfg.min_workers, math.ceil(target / rpn))
        booting = len(nodes) - up
        max_pending = max(_UPSCALING_INITIAL_NODES, int(model.upscaling_speed * max(up, 1)))
        launch = min(needed - len(nodes), nodes_cfg.max_workers - len(nodes), max_pending - booting)
        for _ in range(max(0, launch)):
            on_demand = sum(1 for n in nodes if n.market == "on-demand")
            market = "on-demand" if on_demand < nodes_cfg.min_workers or not nodes_cfg.spot else "spot"
            nodes.append(_Node(market, t + nodes_cfg.start_s))

        # Idle nodes: replicas pack onto on-demand nodes first; spare up nodes time out.
        nodes.sort(key=lambda n: (n.ready_at > t, n.market != "on-demand"))
        busy = math.ceil((ready + len(starting)) / rpn)
        for index, node in enumerate(list(nodes)):
            if node.ready_at > t:
                continue
            if index < busy:
                node.idle_since = None
            elif node.idle_since is None:
                node.idle_since = t
            elif t - node.idle_since >= nodes_cfg.idle_timeout_s and len(nodes) > nodes_cfg.min_workers:
                if node.market == "on-demand" and sum(
                        1 for n in nodes if n.market == "on-demand") <= nodes_cfg.min_workers:
                    continue
                nodes.remove(node)

        on_demand = sum(1 for n in nodes if n.market == "on-demand")
        spot = len(nodes) - on_demand
        series["admitted"][i] = admit
        series["dropped"][i] = dropped
        series["lost"][i] = lost
        series["queued"][i] = queued
        series["target"][i] = target
        series["ready"][i] = ready
        series["starting"][i] = len(starting)
        series["od"][i] = on_demand
        series["spot"][i] = spot
        series["booting"][i] = sum(1 for n in nodes if n.ready_at > t)
        series["cost"][i] = (on_demand * price["on-demand"] + spot * price["spot"]) * dt / 3600.0
        if progress is not None and (i % 2000 == 0 or i == steps - 1):
            progress(i + 1, steps)

    timeline = TierTimeline(
        t_s=t_s, players=players, arrivals=arrivals, admitted=series["admitted"],
        dropped=series["dropped"], lost=series["lost"], queued=series["queued"], target_replicas=series["target"],
        ready_replicas=series["ready"], starting_replicas=series["starting"],
        nodes_on_demand=series["od"], nodes_spot=series["spot"], nodes_booting=series["booting"],
        cost=series["cost"],
    )
    return TierResult(
        name=name, step_s=dt, timeline=timeline,
        latency_step=np.array(lat_step, dtype=int), latency_s=np.array(lat_s),
        latency_weight=np.array(lat_w), slo_latency_s=tier.slo_latency_s,
        price_on_demand=price["on-demand"], price_spot=price["spot"],
        queued_at_end=queued, interruptions=interruptions,
    )


def simulate(
    model: CapacityModel,
    trace: Trace,
    *,
    progress: Callable[[str, int, int], None] | None = None,
    label: str = "autoscaled",
) -> SimulationResult:
    """Simulate every tier of ``model`` over ``trace``.

    ``progress(tier, steps_done, steps_total)`` is called as the simulation advances.
    """
    result = SimulationResult(
        trace_name=trace.name, peak_players=trace.peak, mean_players=trace.mean,
        hours=max(1, math.ceil(trace.duration_s / model.step_s)) * model.step_s / 3600.0,
        fixed_cost_per_hour=model.fixed_cost_per_hour(), label=label,
    )
    for name, tier in model.tiers.items():
        tier_progress = None
        if progress is not None:
            def tier_progress(done: int, total: int, _name: str = name) -> None:
                progress(_name, done, total)
        result.tiers[name] = simulate_tier(name, tier, model, trace, progress=tier_progress)
    return result
