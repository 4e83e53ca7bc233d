"""What the Serve config asks of the cluster: each deployment's replica shape and autoscaling.

The Loreweave application (``loreweave.serve.deployments:build_app``) is read with the
serving layer's own models (:mod:`loreweave.serve.tiers`); any other application with
Ray Serve's standard schema (``applications[].deployments[]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


from loreweave.config import read_yaml
from loreweave.protocol.errors import ConfigError


@dataclass(frozen=True)
class ReplicaDemand:
    """One deployment: what a replica reserves and how many replicas it may have."""

    location: str
    name: str
    tier: str | None
    resources: Mapping[str, float]
    label_selector: Mapping[str, str] = field(default_factory=dict)
    min_replicas: int = 1
    max_replicas: int = 1
    target_ongoing_requests: float | None = None
    max_ongoing_requests: int | None = None


def _resources(options: Mapping[str, Any]) -> dict[str, float]:
    resources = {"CPU": float(options.get("num_cpus", 1) or 0), "GPU": float(options.get("num_gpus", 0) or 0)}
    resources.update({k: float(v) for k, v in (options.get("resources") or {}).items()})
    return {k: v for k, v in resources.items() if v > 0}


def _loreweave_demands(document: Mapping[str, Any]) -> list[ReplicaDemand]:
    from loreweave.serve.tiers import find_app_args, parse_serve_config

    _, args = find_app_args(document)
    index = next(i for i, app in enumerate(document["applications"]) if app.get("args") is args)
    config = parse_serve_config(args)
    base = f"applications[{index}].args"
    demands = []
    for name, tier in config.tiers.items():
        options = tier.ray_actor_options() if hasattr(tier, "ray_actor_options") else tier.resources.to_ray()
        scaling = tier.autoscaling_config
        demands.append(ReplicaDemand(
            f"{base}.tiers.{name}", tier.deployment_name, name, _resources(options),
            dict(options.get("label_selector") or {}), scaling.min_replicas, scaling.max_replicas,
            scaling.target_ongoing_requests, tier.max_ongoing_requests))
    router = config.router
    demands.append(ReplicaDemand(
        f"{base}.router", "router", None, _resources(router.resources.to_ray()), {},
        router.autoscaling_config.min_replicas, router.autoscaling_config.max_replicas,
        router.autoscaling_config.target_ongoing_requests, router.max_ongoing_requests))
    if config.bridge.enabled:
        demands.append(ReplicaDemand(
            f"{base}.bridge", "bridge", None, _resources(config.bridge.resources.to_ray()), {},
            config.bridge.num_replicas, config.bridge.num_replicas))
    return demands


def _standard_demands(document: Mapping[str, Any]) -> list[ReplicaDemand]:
    from pydantic import ValidationError
    from ray.serve.schema import ServeDeploySchema

    try:
        schema = ServeDeploySchema.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(".".join(str(p) for p in error["loc"]), error["msg"]) from None
    demands = []
    for a, app in enumerate(schema.applications):
        for d, deployment in enumerate(app.deployments):
            actor_options = deployment.ray_actor_options
            options: dict[str, Any] = (
                actor_options.model_dump(exclude_unset=True) if hasattr(actor_options, "model_dump") else {})
            scaling = deployment.autoscaling_config
            scaling = scaling if isinstance(scaling, Mapping) else (scaling.model_dump() if scaling else {})
            replicas = deployment.num_replicas if isinstance(deployment.num_replicas, int) else 1
            tier = next((t for t in ("gold", "silver", "bronze") if t in deployment.name.lower()), None)
            demands.append(ReplicaDemand(
                f"applications[{a}].deployments[{d}]", deployment.name, tier, _resources(options),
                dict(options.get("label_selector") or {}),
                int(scaling.get("min_replicas", replicas)), int(scaling.get("max_replicas", replicas)),
                scaling.get("target_ongoing_requests"),
                deployment.max_ongoing_requests if isinstance(deployment.max_ongoing_requests, int) else None))
    return demands


def load_replica_demands(path: Path) -> list[ReplicaDemand]:
    """Every deployment of a Serve config file, as replica demands on the cluster.

    Raises:
        ConfigError: for an unreadable file, bad YAML, or a refused value (field named).
    """
    document = read_yaml(path)
    if not isinstance(document, Mapping) or not isinstance(document.get("applications"), list):
        raise ConfigError("applications", "must be a non-empty list of Serve applications")
    if any(isinstance(app, Mapping) and app.get("import_path") == "loreweave.serve.deployments:build_app"
           for app in document["applications"]):
        return _loreweave_demands(document)
    return _standard_demands(document)
