"""The Ray cluster launcher config: Ray's own validation, refusals by field, spot-first launches."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from loreweave.ops import TIER_LABEL, load_cluster_config, validate_cluster_config
from loreweave.protocol.errors import ConfigError

from .conftest import CLUSTER


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(CLUSTER.read_text())


def test_cluster_config_passes_rays_schema_and_autoscaler_v2(raw: dict[str, Any]) -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config
    from ray.autoscaler.v2.instance_manager.config import AutoscalingConfig

    validate_config(prepare_config(copy.deepcopy(raw)))
    node_types = AutoscalingConfig(copy.deepcopy(raw), skip_content_hash=True).get_node_type_configs()
    assert {"gold-spot", "gold-ondemand", "silver-spot", "silver-ondemand", "bronze-spot",
            "bronze-ondemand"} <= set(node_types)


def test_every_tier_has_a_spot_type_preferred_over_its_on_demand_twin() -> None:
    cluster = load_cluster_config(CLUSTER)
    for tier in ("gold", "silver", "bronze"):
        types = [n for n in cluster.workers if n.tier == tier]
        spot = [n for n in types if n.spot]
        on_demand = [n for n in types if not n.spot]
        assert len(spot) == 1 and len(on_demand) == 1, tier
        assert spot[0].priority > on_demand[0].priority
        assert spot[0].resources == on_demand[0].resources
        assert spot[0].instance_type == on_demand[0].instance_type
        assert on_demand[0].min_workers >= 1 and spot[0].min_workers == 0
    assert cluster.node_types[cluster.head_node_type].resources == {"CPU": 0}
    assert cluster.max_workers == sum(n.max_workers for n in cluster.workers)


def _launches(raw: dict[str, Any], spot_availability: float) -> dict[str, int]:
    """What Ray's v2 scheduler launches for three pending bronze replicas."""
    from ray.autoscaler.v2.instance_manager.config import AutoscalingConfig
    from ray.autoscaler.v2.scheduler import ResourceDemandScheduler, SchedulingRequest
    from ray.autoscaler.v2.utils import ResourceRequestUtil
    from ray.core.generated.common_pb2 import LabelSelectorOperator

    config = AutoscalingConfig(copy.deepcopy(raw), skip_content_hash=True)
    selector = [[(TIER_LABEL, LabelSelectorOperator.Value("LABEL_OPERATOR_IN"), ["bronze"])]]
    requests = [ResourceRequestUtil.make({"CPU": 2, "GPU": 0.5}, label_selectors=selector) for _ in range(6)]
    availability = {"bronze-spot": spot_availability}
    reply = ResourceDemandScheduler().schedule(SchedulingRequest(
        disable_launch_config_check=True, node_type_configs=config.get_node_type_configs(),
        max_num_nodes=config.get_max_num_worker_nodes(),
        resource_requests=ResourceRequestUtil.group_by_count(requests),
        cloud_resource_availabilities=availability, recoverable_resource_availabilities=availability))
    return {launch.instance_type: launch.count for launch in reply.to_launch}


def test_ray_launches_spot_first_and_falls_back_to_on_demand(raw: dict[str, Any]) -> None:
    # Six half-GPU replicas: one on-demand node comes from min_workers (two replicas), the rest spot.
    assert _launches(raw, 1.0)["bronze-spot"] == 2
    assert _launches(raw, 1.0)["bronze-ondemand"] == 1
    # Spot launches failing: the same demand goes to the on-demand type.
    fallback = _launches(raw, 0.0)
    assert fallback.get("bronze-spot", 0) == 0
    assert fallback["bronze-ondemand"] == 3


@pytest.mark.parametrize(("path", "value", "field", "reason"), [
    (("available_node_types", "gold-spot", "resources", "GPU"), "four",
     "available_node_types.gold-spot.resources.GPU", "is not of type 'integer'"),
    (("available_node_types", "gold-spot", "max_workerz"), 3,
     "available_node_types.gold-spot", "Additional properties are not allowed"),
    (("idle_timeout_minutes",), -1, "idle_timeout_minutes", "less than the minimum of 0"),
    (("head_node_type",), "nope", "cluster", "head_node_type"),
])
def test_bad_cluster_config_is_refused_with_field_and_reason(
    raw: dict[str, Any], path: tuple[str, ...], value: object, field: str, reason: str
) -> None:
    bad = copy.deepcopy(raw)
    target = bad
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ConfigError) as refused:
        validate_cluster_config(bad)
    assert refused.value.field == field
    assert reason in refused.value.reason
