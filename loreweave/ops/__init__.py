"""Operations: the Ray cluster and Serve config check, AWS provisioning on ECS, the capacity
simulator and the GPU metrics publisher.

Heavy parts (Ray, boto3, matplotlib) are imported by their subpackages only:
``loreweave.ops.aws``, ``loreweave.ops.capacity``, ``loreweave.ops.metrics``.
"""

from loreweave.ops.check import Finding, check, check_files
from loreweave.ops.cluster import (
    MARKET_LABEL,
    TIER_LABEL,
    ClusterConfig,
    NodeType,
    load_cluster_config,
    validate_cluster_config,
)
from loreweave.ops.prices import HOURS_PER_MONTH, PRICES_AS_OF, InstancePrice, instance_price
from loreweave.ops.serve_config import ReplicaDemand, load_replica_demands

__all__ = [
    "ClusterConfig", "Finding", "HOURS_PER_MONTH", "InstancePrice", "MARKET_LABEL", "NodeType",
    "PRICES_AS_OF", "ReplicaDemand", "TIER_LABEL", "check", "check_files", "instance_price",
    "load_cluster_config", "load_replica_demands", "validate_cluster_config",
]
