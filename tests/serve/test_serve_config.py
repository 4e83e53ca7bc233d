"""Tier configuration: the shipped serve.yaml loads, bad values are refused with the field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from loreweave.cli.serve import serve_group
from loreweave.protocol.errors import ConfigError
from loreweave.serve.tiers import load_serve_config, local_profile, parse_serve_config

SERVE_YAML = Path(__file__).resolve().parents[2] / "deploy" / "ray-cluster" / "serve.yaml"


def test_shipped_config_describes_three_tiers_and_the_router() -> None:
    config = load_serve_config(SERVE_YAML)
    assert list(config.tiers) == ["gold", "silver", "bronze"]
    gold = config.tiers["gold"]
    assert gold.engine == "vllm" and gold.first_token_ms == 150
    assert gold.resources.num_gpus == 1
    assert config.router.routes["dialogue"][0] == "gold"
    assert config.app_name == "loreweave-ai"


def test_shipped_config_is_a_valid_ray_serve_config() -> None:
    from ray.serve.schema import ServeDeploySchema

    document = ServeDeploySchema.model_validate(yaml.safe_load(SERVE_YAML.read_text()))
    assert document.applications[0].import_path == "loreweave.serve.deployments:build_app"


def test_local_profile_needs_no_model_and_no_gpu() -> None:
    local = local_profile(load_serve_config(SERVE_YAML))
    assert {tier.engine for tier in local.tiers.values()} == {"scripted"}
    assert all(tier.resources.num_gpus == 0 for tier in local.tiers.values())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"tiers": {"gold": {"autoscaling_config": {"min_replicas": 1, "max_replicas": 0}}}},
            "tiers.gold.autoscaling_config.max_replicas: must be >= min_replicas (1), got 0",
        ),
        ({"tiers": {"gold": {"max_ongoing_requests": 0}}}, "tiers.gold.max_ongoing_requests: must be >= 1, got 0"),
        ({"tiers": {"gold": {"engine": "vllm", "model": None}}}, "tiers.gold.model: is required when engine is 'vllm'"),
        ({"tiers": {"gold": {"engine": "tensorrt"}}}, "tiers.gold.engine: must be 'vllm', 'scripted'"),
        ({"tiers": {"gold": {"first_token_ms": 900, "latency_budget_ms": 100}}}, "tiers.gold.first_token_ms: must be <="),
        ({"tiers": {"gold": {"turbo": True}}}, "tiers.gold.turbo: is not a known field"),
        ({"router": {"routes": {"dialogue": ["platinum"]}}}, "router.routes.dialogue[0]: unknown tier 'platinum'"),
        ({"router": {"worlds": {"default": {"qos": "maximal"}}}}, "router.worlds.default.qos:"),
        ({"tiers": {"bronze": {"sampling": {"temperature": 3}}}}, "tiers.bronze.sampling.temperature: must be <= 2"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(change: dict[str, Any], message: str, tmp_path: Path) -> None:
    document = yaml.safe_load(SERVE_YAML.read_text())
    _merge(document["applications"][0]["args"], change)
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        load_serve_config(path)
    assert str(caught.value).startswith(message)


def test_cli_check_prints_one_line_for_a_bad_file(tmp_path: Path) -> None:
    document = yaml.safe_load(SERVE_YAML.read_text())
    document["applications"][0]["args"]["tiers"]["gold"]["autoscaling_config"]["max_replicas"] = 0
    path = tmp_path / "serve.yaml"
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(serve_group, ["check", str(path)])
    assert result.exit_code == 2
    assert "tiers.gold.autoscaling_config.max_replicas: must be >= min_replicas (1), got 0" in result.output
    good = CliRunner().invoke(serve_group, ["check", str(SERVE_YAML)])
    assert good.exit_code == 0, good.output
    assert "gold" in good.output and "vllm" in good.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tier", "platinum"], "error: tier: unknown tier 'platinum' (the config has: gold, silver, bronze)"),
        (["--tier", "gold", "--router"], "error: tier: --tier and --router are separate services"),
    ],
)
def test_cli_run_refuses_a_bad_layout_before_starting_ray(options: list[str], message: str) -> None:
    result = CliRunner().invoke(serve_group, ["run", "--config", str(SERVE_YAML), "--scripted", *options])
    assert result.exit_code == 2 and result.output.startswith(message), result.output


def test_minimal_config_gets_the_documented_defaults() -> None:
    config = parse_serve_config({"tiers": {"gold": {}, "silver": {}, "bronze": {}}})
    assert config.tiers["gold"].engine == "scripted"
    assert config.router.world("any-world").qos == "full"


def _merge(target: dict[str, Any], change: dict[str, Any]) -> None:
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value
