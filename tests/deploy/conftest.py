"""Fixtures of the deploy tests: repository paths, fake AWS credentials, a small capacity model."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from loreweave.ops.capacity import CapacityModel, Trace, parse_capacity_model

REPO = Path(__file__).resolve().parents[2]
CLUSTER = REPO / "deploy/ray-cluster/cluster.yaml"
SERVE = REPO / "deploy/ray-cluster/serve.yaml"
STACK = REPO / "deploy/ecs/stack.yaml"
MODEL = REPO / "deploy/capacity/model.yaml"
TRACES = REPO / "deploy/capacity/traces"

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # The stack attaches AWS managed policies, which moto knows only when told to load them.
    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
}


@pytest.fixture(scope="module")
def fake_aws() -> Iterator[None]:
    """Fake credentials and moto's in-memory AWS for a whole module; nothing reaches AWS."""
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch:
        for key, value in FAKE_AWS.items():
            patch.setenv(key, value)
        patch.delenv("AWS_PROFILE", raising=False)
        with mock_aws():
            yield


def tier_data(**overrides: object) -> dict[str, object]:
    """A one-tier model's tier: 1 replica per node, 30 req/s per replica at its target of 16."""
    tier: dict[str, object] = {
        "requests_per_player_per_min": 6.0,
        "slo_latency_s": 2.0,
        "timeout_s": 4.0,
        "max_queued_requests": 200,
        "replica": {"max_ongoing_requests": 32, "latency_curve": [[1, 0.3], [16, 0.5], [32, 0.8]],
                    "start_s": 30},
        "autoscaling": {"min_replicas": 1, "max_replicas": 6, "target_ongoing_requests": 16,
                        "upscale_delay_s": 10, "downscale_delay_s": 120},
        "nodes": {"instance_type": "g6.xlarge", "replicas_per_node": 1, "start_s": 120,
                  "idle_timeout_s": 120, "min_workers": 1, "max_workers": 6, "spot": True,
                  "spot_interruptions_per_hour": 0.0},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(tier.get(key), dict):
            tier[key] = {**tier[key], **value}  # type: ignore[dict-item]
        else:
            tier[key] = value
    return tier


def small_model(**overrides: object) -> CapacityModel:
    """A fast model: one tier, 10-second steps."""
    return parse_capacity_model({"step_s": 10, "seed": 3, "noise": True, "upscaling_speed": 1.0,
                                 "fixed_nodes": [{"instance_type": "m7i.xlarge", "count": 1}],
                                 "tiers": {"gold": tier_data(**overrides)}})


def ramp_trace(name: str, levels: list[float], minutes_each: int = 20) -> Trace:
    """A trace holding each of ``levels`` players for ``minutes_each`` minutes."""
    players = np.repeat(np.array(levels, dtype=float), minutes_each)
    return Trace(name, np.arange(len(players), dtype=float), players)


@pytest.fixture
def model() -> CapacityModel:
    """The small one-tier model."""
    return small_model()
