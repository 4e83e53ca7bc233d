"""Ray Serve's default replica autoscaling decision, step by step, for the simulator.

It follows ``ray.serve.autoscaling_policy`` (the queue-length policy, the scaling
factors, the up/down delays and the cold-start path) and ``apply_bounds``;
``tests/deploy`` checks it against Ray Serve's own functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from loreweave.ops.capacity.model import AutoscalingModel

_EPS_S = 1e-6


@dataclass
class ServePolicy:
    """The autoscaling state of one deployment: what it wants and since when."""

    config: AutoscalingModel
    counter: int = 0
    since: float | None = None

    def _bounded(self, replicas: int) -> int:
        return max(self.config.min_replicas, min(self.config.max_replicas, replicas))

    def scaled(self, desired: float, running: int) -> int:
        """Apply ``upscaling_factor`` / ``downscaling_factor`` to the move from ``running``."""
        if running == 0:
            return math.ceil(desired)
        delta = desired - running
        factor = self.config.upscaling_factor if delta > 0 else self.config.downscaling_factor
        replicas = math.ceil(running + factor * delta)
        if math.ceil(float(desired)) < running and replicas == running:
            replicas -= 1
        return replicas

    def delayed(self, desired: int, target: int, now: float) -> int:
        """Hold a change until it has been wanted for the up or down delay."""
        decision = target
        if desired > target:
            if self.counter < 0:
                self.counter, self.since = 0, None
            self.counter += 1
            self.since = now if self.since is None else self.since
            if now - self.since + _EPS_S >= self.config.upscale_delay_s:
                self.counter, self.since, decision = 0, None, desired
        elif desired < target:
            if self.counter > 0:
                self.counter, self.since = 0, None
            self.counter -= 1
            if target == 1 and self.config.downscale_to_zero_delay_s is not None:
                delay = self.config.downscale_to_zero_delay_s
            else:
                delay = self.config.downscale_delay_s
                if target != 1:
                    desired = max(1, desired)
            self.since = now if self.since is None else self.since
            if now - self.since + _EPS_S >= delay:
                self.counter, self.since, decision = 0, None, desired
        else:
            self.counter, self.since = 0, None
        return decision

    def decide(self, now: float, total_requests: float, running: int, target: int) -> int:
        """The new target replica count, given requests running and queued (look-back average)."""
        if running == 0 and total_requests > 0:
            return self._bounded(max(math.ceil(self.config.upscaling_factor), target))
        if running == 0:
            desired: float = target
        else:
            desired = total_requests / self.config.target_ongoing_requests
        scaled = self.scaled(desired, running)
        if running == 0 and scaled > 0:
            return self._bounded(scaled)
        return self._bounded(self.delayed(max(0, scaled), target, now))
