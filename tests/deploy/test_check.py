"""``ops check``: the Serve config against the cluster config, with clear messages."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from loreweave.cli.ops import ops_group
from loreweave.ops import check, check_files, load_cluster_config, load_replica_demands
from loreweave.protocol.errors import ConfigError

from .conftest import CLUSTER, SERVE, STACK


@pytest.fixture(scope="module")
def serve_doc() -> dict[str, Any]:
    return yaml.safe_load(SERVE.read_text())


def _write(tmp_path: Path, document: dict[str, Any], name: str = "serve.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document))
    return path


def test_shipped_configs_fit_each_other() -> None:
    findings = check_files(CLUSTER, SERVE)
    assert [f for f in findings if f.level == "error"] == []


def test_replica_larger_than_its_node_type_is_an_error(tmp_path: Path, serve_doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(serve_doc)
    bad["applications"][0]["args"]["tiers"]["gold"]["resources"] = {"num_cpus": 2, "num_gpus": 2}
    findings = check_files(CLUSTER, _write(tmp_path, bad))
    errors = [f for f in findings if f.level == "error"]
    assert len(errors) == 1
    assert errors[0].field == "applications[0].args.tiers.gold.resources"
    assert "GPU=2" in errors[0].reason and "gold-spot" in errors[0].reason


def test_max_replicas_beyond_max_workers_is_an_error(tmp_path: Path, serve_doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(serve_doc)
    bad["applications"][0]["args"]["tiers"]["silver"]["autoscaling_config"]["max_replicas"] = 99
    errors = [f for f in check_files(CLUSTER, _write(tmp_path, bad)) if f.level == "error"]
    assert [e.field for e in errors] == ["applications[0].args.tiers.silver.autoscaling_config.max_replicas"]
    assert "99 replicas do not fit" in errors[0].reason and "raise max_workers" in errors[0].reason


def test_standard_serve_schema_is_checked_too(tmp_path: Path) -> None:
    document = {"applications": [{"name": "llm", "import_path": "app:build", "deployments": [
        {"name": "gold-llm", "max_ongoing_requests": 8,
         "autoscaling_config": {"min_replicas": 3, "max_replicas": 4, "target_ongoing_requests": 16},
         "ray_actor_options": {"num_cpus": 4, "num_gpus": 1}}]}]}
    demands = load_replica_demands(_write(tmp_path, document))
    assert demands[0].tier == "gold" and demands[0].resources == {"CPU": 4.0, "GPU": 1.0}
    findings = check(load_cluster_config(CLUSTER), demands)
    by_field = {f.field: f for f in findings}
    target = by_field["applications[0].deployments[0].autoscaling_config.target_ongoing_requests"]
    assert target.level == "error" and "exceeds max_ongoing_requests (8)" in target.reason
    warm = by_field["applications[0].deployments[0].autoscaling_config.min_replicas"]
    assert warm.level == "warning" and "min_workers hold 1" in warm.reason


def test_invalid_serve_config_is_refused_by_field(tmp_path: Path, serve_doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(serve_doc)
    bad["applications"][0]["args"]["tiers"]["bronze"]["max_ongoing_requests"] = 0
    with pytest.raises(ConfigError) as refused:
        check_files(CLUSTER, _write(tmp_path, bad))
    assert refused.value.field == "tiers.bronze.max_ongoing_requests"


def test_cli_check_exits_1_on_errors_and_0_when_clean(tmp_path: Path, serve_doc: dict[str, Any]) -> None:
    runner = CliRunner()
    clean = runner.invoke(ops_group, ["check", "--cluster", str(CLUSTER), "--serve", str(SERVE)])
    assert clean.exit_code == 0, clean.output
    assert "0 errors" in clean.output
    bad = copy.deepcopy(serve_doc)
    bad["applications"][0]["args"]["tiers"]["gold"]["resources"] = {"num_cpus": 64, "num_gpus": 1}
    failed = runner.invoke(ops_group, ["check", "--cluster", str(CLUSTER), "--serve", str(_write(tmp_path, bad))])
    assert failed.exit_code == 1
    assert "error: applications[0].args.tiers.gold.resources: a replica needs CPU=64" in failed.output


@pytest.mark.parametrize("service", ["actors", "ai-router", "gold", "silver", "bronze"])
def test_every_ecs_task_command_is_a_loreweave_command(service: str) -> None:
    from loreweave.cli.main import cli
    from loreweave.ops.aws import load_stack

    spec = load_stack(STACK)
    task = spec.services.get(service) or spec.tiers[service]
    assert task.command[0] == "loreweave"
    # --help parses every option before it prints: an unknown command or option exits 2.
    result = CliRunner().invoke(cli, [*task.command[1:], "--help"])
    assert result.exit_code == 0, result.output
