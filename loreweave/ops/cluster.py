"""The Ray cluster launcher config (``deploy/ray-cluster/cluster.yaml``), validated by Ray itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from loreweave.config import read_yaml
from loreweave.protocol.errors import ConfigError

#: Node label naming the model tier a worker node type serves.
TIER_LABEL = "loreweave.io/tier"
#: Node label naming the market of a node type: ``spot`` or ``on-demand``.
MARKET_LABEL = "loreweave.io/market"


@dataclass(frozen=True)
class NodeType:
    """One node type of the cluster, as the autoscaler sees it."""

    name: str
    resources: Mapping[str, float]
    labels: Mapping[str, str]
    min_workers: int
    max_workers: int
    instance_type: str
    spot: bool
    priority: int = 0

    @property
    def tier(self) -> str | None:
        """The tier this node type serves, from its label."""
        return self.labels.get(TIER_LABEL)


@dataclass(frozen=True)
class ClusterConfig:
    """A validated cluster config: the raw mapping Ray filled out, and its node types."""

    raw: Mapping[str, Any]
    head_node_type: str
    max_workers: int
    node_types: dict[str, NodeType] = field(default_factory=dict)

    @property
    def workers(self) -> list[NodeType]:
        """Every node type but the head's."""
        return [n for name, n in self.node_types.items() if name != self.head_node_type]


def validate_cluster_config(config: Mapping[str, Any]) -> ClusterConfig:
    """Fill out and validate a cluster config with Ray's own code and schema (``ray-schema.json``).

    Raises:
        ConfigError: naming the field Ray refused (``available_node_types.gold-spot.resources.GPU``).
    """
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    if not isinstance(config, Mapping) or "provider" not in config:
        raise ConfigError("provider", "is missing: a cluster config needs provider and cluster_name")
    logging.getLogger("ray.autoscaler").setLevel(logging.WARNING)
    try:
        prepared = prepare_config(dict(config))
        validate_config(prepared)
    except jsonschema.ValidationError as exc:
        path = ".".join(str(part) for part in exc.absolute_path) or "cluster"
        raise ConfigError(path, exc.message) from None
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ConfigError("cluster", str(exc)) from None
    node_types = {}
    for name, node in prepared["available_node_types"].items():
        node_config = node.get("node_config", {})
        node_types[name] = NodeType(
            name=name, resources=dict(node.get("resources", {})), labels=dict(node.get("labels", {})),
            min_workers=int(node.get("min_workers", 0)), max_workers=int(node.get("max_workers", 0)),
            instance_type=str(node_config.get("InstanceType", "")),
            spot=node_config.get("InstanceMarketOptions", {}).get("MarketType") == "spot",
            priority=int(node.get("priority", 0)),
        )
    return ClusterConfig(prepared, prepared["head_node_type"], int(prepared["max_workers"]), node_types)


def load_cluster_config(path: Path) -> ClusterConfig:
    """Read and validate a cluster YAML file.

    Raises:
        ConfigError: for an unreadable file, bad YAML, or a field Ray refuses.
    """
    return validate_cluster_config(read_yaml(path))
