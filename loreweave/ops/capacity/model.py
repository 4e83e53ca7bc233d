"""The capacity model: demand per player, each tier's replica performance, autoscaling and nodes.

Field names follow Ray Serve's ``autoscaling_config`` and the Ray cluster launcher's
node types, so a setting read here can be copied into ``deploy/ray-cluster/`` as is.
"""

from __future__ import annotations

import bisect
import math
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from loreweave.config import read_yaml, validation_error
from loreweave.ops.prices import InstancePrice, Market, instance_price
from loreweave.protocol.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReplicaModel(_Strict):
    """How one replica of a tier performs: latency of a request at a given concurrency."""

    max_ongoing_requests: int = Field(ge=1, description="Requests one replica serves at once.")
    latency_curve: list[tuple[float, float]] = Field(
        min_length=1,
        description="[concurrency, seconds per request] points, measured; linear in between.",
    )
    start_s: float = Field(default=90.0, ge=0, description="Replica start on a ready node (model load).")

    @field_validator("latency_curve")
    @classmethod
    def _increasing(cls, curve: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for index, (concurrency, latency) in enumerate(curve):
            if concurrency <= 0 or latency <= 0:
                raise ValueError(f"point {index} must have concurrency > 0 and latency > 0")
            if index and concurrency <= curve[index - 1][0]:
                raise ValueError(f"point {index}: concurrency must increase")
        return curve

    def latency(self, concurrency: float) -> float:
        """Seconds one request takes when ``concurrency`` requests share the replica."""
        xs = [point[0] for point in self.latency_curve]
        ys = [point[1] for point in self.latency_curve]
        if concurrency <= xs[0]:
            return ys[0]
        if concurrency >= xs[-1]:
            if len(xs) == 1:
                return ys[0]
            slope = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            return ys[-1] + slope * (concurrency - xs[-1])
        index = bisect.bisect_right(xs, concurrency)
        x0, x1, y0, y1 = xs[index - 1], xs[index], ys[index - 1], ys[index]
        return y0 + (y1 - y0) * (concurrency - x0) / (x1 - x0)

    def throughput(self, concurrency: float) -> float:
        """Requests per second one replica completes at ``concurrency``."""
        concurrency = min(concurrency, self.max_ongoing_requests)
        return concurrency / self.latency(concurrency) if concurrency > 0 else 0.0


class AutoscalingModel(_Strict):
    """Ray Serve ``autoscaling_config`` of the tier's deployment."""

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=1, ge=1)
    target_ongoing_requests: float = Field(default=16, gt=0)
    upscale_delay_s: float = Field(default=30.0, ge=0)
    downscale_delay_s: float = Field(default=600.0, ge=0)
    look_back_period_s: float = Field(default=30.0, gt=0)
    downscale_to_zero_delay_s: float | None = Field(default=None, ge=0)
    upscaling_factor: float = Field(default=1.0, gt=0)
    downscaling_factor: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingModel:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) must be >= min_replicas ({self.min_replicas})"
            )
        return self


class NodeModel(_Strict):
    """The GPU worker nodes of a tier (its spot and on-demand node types together)."""

    instance_type: str
    replicas_per_node: int = Field(default=1, ge=1)
    start_s: float = Field(default=240.0, ge=0, description="Launch to Ray ready: boot, image pull.")
    idle_timeout_s: float = Field(default=600.0, ge=0)
    min_workers: int = Field(default=0, ge=0, description="Always-on nodes, bought on demand.")
    max_workers: int = Field(ge=1, description="Spot and on-demand nodes together.")
    spot: bool = Field(default=True, description="Nodes beyond min_workers on the spot market.")
    spot_interruptions_per_hour: float = Field(
        default=0.0, ge=0, description="Chance per spot node-hour of a reclaim (0.05 = 5%)."
    )

    @model_validator(mode="after")
    def _bounds(self) -> NodeModel:
        if self.max_workers < self.min_workers:
            raise ValueError(
                f"max_workers ({self.max_workers}) must be >= min_workers ({self.min_workers})"
            )
        return self


class TierModel(_Strict):
    """One model tier: its demand, its replica, its autoscaling and its nodes."""

    requests_per_player_per_min: float = Field(ge=0)
    slo_latency_s: float = Field(gt=0, description="A request slower than this is late.")
    timeout_s: float = Field(gt=0, description="A request queued longer is dropped (router falls back).")
    max_queued_requests: int = Field(default=-1, ge=-1, description="Beyond this, rejected; -1: no limit.")
    replica: ReplicaModel
    autoscaling: AutoscalingModel
    nodes: NodeModel

    @model_validator(mode="after")
    def _fits(self) -> TierModel:
        if self.autoscaling.target_ongoing_requests > self.replica.max_ongoing_requests:
            raise ValueError(
                f"autoscaling.target_ongoing_requests ({self.autoscaling.target_ongoing_requests:g}) "
                f"must be <= replica.max_ongoing_requests ({self.replica.max_ongoing_requests})"
            )
        capacity = self.nodes.max_workers * self.nodes.replicas_per_node
        if self.autoscaling.max_replicas > capacity:
            raise ValueError(
                f"autoscaling.max_replicas ({self.autoscaling.max_replicas}) exceeds "
                f"nodes.max_workers x replicas_per_node ({capacity})"
            )
        return self


class FixedNodes(_Strict):
    """Always-on nodes outside the tiers (Ray head, router and bridge host)."""

    instance_type: str
    count: int = Field(default=1, ge=0)


class PriceOverride(_Strict):
    """An hourly price that replaces the built-in table's."""

    on_demand: float = Field(gt=0)
    spot: float = Field(gt=0)


class CapacityModel(_Strict):
    """Everything the simulator needs besides the demand trace."""

    step_s: float = Field(default=5.0, gt=0, le=60)
    seed: int = 7
    noise: bool = Field(default=True, description="Poisson arrivals instead of the exact mean.")
    upscaling_speed: float = Field(default=1.0, gt=0, description="Ray autoscaler upscaling_speed.")
    fixed_nodes: list[FixedNodes] = Field(default_factory=list)
    tiers: dict[str, TierModel] = Field(min_length=1)
    prices: dict[str, PriceOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _priced(self) -> CapacityModel:
        for name, tier in self.tiers.items():
            try:
                self.price(tier.nodes.instance_type)
            except ConfigError as exc:
                raise ValueError(f"tiers.{name}.nodes.instance_type: {exc.reason}") from None
        return self

    def price(self, instance_type: str) -> InstancePrice:
        """The hourly price of ``instance_type`` (overrides first)."""
        overrides = {
            key: InstancePrice(key, value.on_demand, value.spot, 0, "")
            for key, value in self.prices.items()
        }
        return instance_price(instance_type, overrides)

    def hourly(self, instance_type: str, market: Market) -> float:
        """Hourly price of one node of ``instance_type`` on ``market``."""
        return self.price(instance_type).hourly(market)

    def fixed_cost_per_hour(self) -> float:
        """Cost per hour of the always-on nodes (on demand)."""
        return sum(self.hourly(n.instance_type, "on-demand") * n.count for n in self.fixed_nodes)


def parse_capacity_model(data: Mapping[str, Any]) -> CapacityModel:
    """Validate a capacity model mapping.

    Raises:
        ConfigError: naming the first bad field (``tiers.gold.autoscaling.max_replicas``) and why.
    """
    try:
        return CapacityModel.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "model") from None


def load_capacity_model(path: Path) -> CapacityModel:
    """Read and validate a capacity model YAML file.

    Raises:
        ConfigError: for an unreadable file, bad YAML, or a refused value (field named).
    """
    data = read_yaml(path)
    if not isinstance(data, Mapping):
        raise ConfigError(str(path), "must be a mapping with 'tiers'")
    return parse_capacity_model(data)


def replicas_for(tier: TierModel, requests_per_s: float) -> int:
    """Replicas that serve ``requests_per_s`` with each replica at its autoscaling target."""
    per_replica = tier.replica.throughput(tier.autoscaling.target_ongoing_requests)
    return max(1, math.ceil(requests_per_s / per_replica)) if per_replica > 0 else 1
