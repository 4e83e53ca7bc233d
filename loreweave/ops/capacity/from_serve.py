"""Take a tier's Serve settings from ``deploy/ray-cluster/serve.yaml`` into the capacity model."""

from __future__ import annotations

import math
from pathlib import Path

from loreweave.config import read_yaml
from loreweave.ops.capacity.model import CapacityModel, TierModel
from loreweave.protocol.errors import ConfigError


def with_serve_settings(model: CapacityModel, serve_path: Path) -> CapacityModel:
    """The model with each tier's autoscaling_config, max_ongoing_requests, max_queued_requests
    and latency budget (as SLO and timeout) read from the Loreweave Serve config.

    Tiers of the model absent from the Serve config keep their settings.

    Raises:
        ConfigError: if the Serve config is invalid (field named) or a setting does not fit the model.
    """
    from loreweave.serve.tiers import find_app_args, parse_serve_config

    _, args = find_app_args(read_yaml(Path(serve_path)))
    serve = parse_serve_config(args)
    tiers: dict[str, TierModel] = {}
    for name, tier in model.tiers.items():
        config = serve.tiers.get(name)
        if config is None:
            tiers[name] = tier
            continue
        scaling = config.autoscaling_config
        budget_s = config.latency_budget_ms / 1000.0
        max_replicas = scaling.max_replicas
        nodes = tier.nodes
        needed = math.ceil(max_replicas / nodes.replicas_per_node)
        data = tier.model_dump()
        data["slo_latency_s"] = budget_s
        data["timeout_s"] = budget_s
        data["max_queued_requests"] = config.max_queued_requests
        data["replica"]["max_ongoing_requests"] = config.max_ongoing_requests
        data["autoscaling"].update(
            min_replicas=scaling.min_replicas, max_replicas=max_replicas,
            target_ongoing_requests=scaling.target_ongoing_requests,
            upscale_delay_s=scaling.upscale_delay_s, downscale_delay_s=scaling.downscale_delay_s)
        data["nodes"]["max_workers"] = max(nodes.max_workers, needed)
        try:
            tiers[name] = TierModel.model_validate(data)
        except ValueError as exc:
            raise ConfigError(f"tiers.{name}", f"the Serve settings do not fit the model: {exc}") from None
    return model.model_copy(update={"tiers": tiers})
