"""The ECS stack's security against moto: credentials only through Secrets Manager, policies on named
ARNs, backing servers reachable from the stack's tasks only; a secret's credential is one the bus accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nats
import pytest

from loreweave.embedded import EmbeddedNats
from loreweave.ops.aws import Clients, StackSpec, apply, destroy, load_stack, parse_stack, plan
from loreweave.ops.aws.credentials import nats_authorization, rotate_nats_credential, stack_credentials
from loreweave.protocol.errors import ConfigError
from loreweave.security import redact_url
from loreweave.testing import eventually

from .conftest import STACK

pytestmark = pytest.mark.usefixtures("fake_aws")

#: Which role each container of the stack connects to the bus as.
EXPECTED_ROLES = {("actors", "actors"): "actor-node", ("ai-router", "ai-router"): "ai",
                  **{(tier, "serve"): "ai" for tier in ("gold", "silver", "bronze")},
                  **{(tier, "metrics"): "ops" for tier in ("gold", "silver", "bronze")}}


@pytest.fixture(scope="module")
def spec() -> StackSpec:
    return load_stack(STACK)


@pytest.fixture(scope="module")
def aws(fake_aws: None, spec: StackSpec) -> Clients:
    clients = Clients(spec.region)
    apply(spec, clients)
    return clients


def _secret(aws: Clients, arn: str) -> dict[str, Any]:
    return json.loads(aws("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def _group(aws: Clients, name: str) -> dict[str, Any]:
    return aws("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"][0]


def test_each_task_gets_its_roles_nats_credential_from_secrets_manager(spec: StackSpec, aws: Clients) -> None:
    seen = {}
    for workload in [*spec.services, *spec.tiers]:
        task = aws("ecs").describe_task_definition(taskDefinition=f"{spec.name}-{workload}")["taskDefinition"]
        for container in task["containerDefinitions"]:
            plain = {e["name"]: e["value"] for e in container["environment"]}
            assert "LOREWEAVE_NATS_URL" not in plain and not any("nats://" in v for v in plain.values())
            handed = {s["name"]: s["valueFrom"] for s in container["secrets"]}
            arn, _, key = handed["LOREWEAVE_NATS_URL"].partition(":url")
            assert key == "::", "ECS reads the url key of the JSON secret"
            value = _secret(aws, arn)
            role = EXPECTED_ROLES[(workload, container["name"])]
            assert value["role"] == value["user"] == role and arn.split(":secret:")[1].startswith(
                f"{spec.name}/nats/{role}-")
            assert value["url"].startswith(f"nats://{role}:") and value["url"].endswith("@nats.loreweave.internal:4222")
            assert len(value["password"]) >= 40 and value["password"] in value["url"]
            seen[role] = arn
    assert sorted(seen) == ["actor-node", "ai", "ops"]


def test_the_execution_role_reads_exactly_the_stacks_secrets(spec: StackSpec, aws: Clients) -> None:
    iam = aws("iam")
    nats_arns = sorted(aws("secretsmanager").describe_secret(SecretId=f"{spec.name}/nats/{role}")["ARN"]
                       for role in ("actor-node", "ai", "ops"))
    policy = iam.get_role_policy(RoleName=f"{spec.name}-execution", PolicyName="read-secrets")["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"] and sorted(statement["Resource"]) == nats_arns
    for role in [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(spec.name)]:
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for statement in document["Statement"]:
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                assert all(r.startswith("arn:aws:") and "*" not in r for r in resources), (role, name, resources)
                assert all("*" not in action for action in statement["Action"]), (role, name)


def test_backing_servers_admit_only_the_stacks_tasks_on_nats_and_postgres(spec: StackSpec, aws: Clients) -> None:
    tasks, backing = _group(aws, f"{spec.name}-tasks"), _group(aws, f"{spec.name}-backing")
    assert tasks["IpPermissions"] == [], "nothing connects to a task"
    rules = sorted((p["IpProtocol"], p["FromPort"], p["ToPort"], [g["GroupId"] for g in p["UserIdGroupPairs"]],
                    p["IpRanges"], p.get("Ipv6Ranges", [])) for p in backing["IpPermissions"])
    assert rules == [("tcp", 4222, 4222, [tasks["GroupId"]], [], []), ("tcp", 5432, 5432, [tasks["GroupId"]], [], [])]
    for service in [*spec.services, *spec.tiers]:
        described = aws("ecs").describe_services(cluster=spec.name, services=[service])["services"][0]
        network = described["networkConfiguration"]["awsvpcConfiguration"]
        assert network["securityGroups"] == [tasks["GroupId"]] and network["assignPublicIp"] == "DISABLED"
    template = aws("ec2").describe_launch_template_versions(
        LaunchTemplateName=f"{spec.name}-gold", Versions=["$Latest"])["LaunchTemplateVersions"][0]
    assert template["LaunchTemplateData"]["SecurityGroupIds"] == [tasks["GroupId"]]


def test_an_opened_port_is_planned_as_drift_and_closed_by_apply(spec: StackSpec, aws: Clients) -> None:
    backing = _group(aws, f"{spec.name}-backing")
    aws("ec2").authorize_security_group_ingress(GroupId=backing["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 4222, "ToPort": 4222, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    drift = {c.label: c.fields for c in plan(spec, aws).changes if c.action != "unchanged"}
    assert drift == {f"security_group/{spec.name}-backing": ("ingress",)}
    apply(spec, aws)
    assert plan(spec, aws).empty
    assert all(not p["IpRanges"] for p in _group(aws, f"{spec.name}-backing")["IpPermissions"])


async def test_a_secrets_credential_is_what_a_server_configured_from_the_secrets_accepts(
    spec: StackSpec, aws: Clients, tmp_path: Path
) -> None:
    block = nats_authorization(spec, aws)
    assert '"user": "actor-node"' in block and '"allow_responses": true' in block
    server = EmbeddedNats(tmp_path / "nats")
    for credential in stack_credentials(spec, aws):  # the server's users are the secrets' credentials
        credential.write(server.auth.path(credential.name))
    await server.start()
    try:
        arn = aws("secretsmanager").describe_secret(SecretId=f"{spec.name}/nats/ai")["ARN"]
        url = _secret(aws, arn)["url"].replace("nats.loreweave.internal:4222", f"127.0.0.1:{server.port}")
        errors: list[str] = []

        async def keep(error: Exception) -> None:
            errors.append(str(error))

        ai = await nats.connect(url, allow_reconnect=False, error_cb=keep)
        await ai.subscribe("lw.rpc.>")  # the ai role never answers actor requests
        await ai.flush()
        await eventually(lambda: any("permissions violation" in e.lower() for e in errors), timeout=5)
        await ai.close()

        old_password = _secret(aws, arn)["password"]
        rotate_nats_credential(spec, aws, "ai")
        rotated = _secret(aws, arn)
        assert rotated["password"] != old_password and rotated["user"] == "ai"
        assert old_password not in redact_url(rotated["url"]) and rotated["password"] not in redact_url(rotated["url"])
    finally:
        await server.stop()
    with pytest.raises(ConfigError) as refused:
        rotate_nats_credential(spec, aws, "admin")
    assert refused.value.field == "role"


def test_the_commands_write_the_servers_users_privately_and_rotate(spec: StackSpec, aws: Clients,
                                                                   tmp_path: Path) -> None:
    from click.testing import CliRunner

    from loreweave.cli.ops import ops_group

    out = tmp_path / "auth.conf"
    written = CliRunner().invoke(ops_group, ["nats-users", "--stack", str(STACK), "--out", str(out)])
    assert written.exit_code == 0, written.output
    assert out.stat().st_mode & 0o777 == 0o600
    passwords = [c.password for c in stack_credentials(spec, aws)]
    assert all(p in out.read_text() for p in passwords) and not any(p in written.output for p in passwords)
    rotated = CliRunner().invoke(ops_group, ["rotate", "ops", "--stack", str(STACK)])
    assert rotated.exit_code == 0, rotated.output
    assert {c.password for c in stack_credentials(spec, aws)} - set(passwords), "no password changed"
    refused = CliRunner().invoke(ops_group, ["rotate", "admin", "--stack", str(STACK)])
    assert refused.exit_code != 0


def test_a_cluster_url_gets_the_login_on_each_server() -> None:
    from loreweave.ops.aws.handlers.secrets import credential_value

    spec = parse_stack({"name": "lw-test", "region": "us-east-1", "backing": {
        **BACKING, "nats_url": "tls://n1.internal:4223,tls://n2.internal:4223"}})
    assert spec.backing.nats_port == 4223
    value = credential_value("ai", spec.backing.nats_url, "pw")
    assert value["url"] == "tls://ai:pw@n1.internal:4223,tls://ai:pw@n2.internal:4223"
    assert redact_url(value["url"]) == "tls://ai:***@n1.internal:4223,tls://ai:***@n2.internal:4223"


BACKING = {"nats_url": "nats://nats.internal:4222",
           "database_url_secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:lw/db"}
SERVICE = {"image": "x"}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"backing": {**BACKING, "nats_url": "nats://actor-node:pw@nats.internal:4222"}}, "backing.nats_url",
         "String should match pattern"),
        ({"services": {"actors": {**SERVICE, "environment": {"LOREWEAVE_STRIPE_API_KEY": "sk_live_x"}}}},
         "services.actors.environment", "LOREWEAVE_STRIPE_API_KEY is a secret"),
        ({"services": {"actors": {**SERVICE, "environment": {"LOREWEAVE_NATS_URL": "nats://h:4222"}}}},
         "services.actors.environment", "LOREWEAVE_NATS_URL is a secret"),
        ({"services": {"actors": {**SERVICE, "secrets": {"LOREWEAVE_STRIPE_API_KEY": "sk_live_x"}}}},
         "services.actors.secrets", "LOREWEAVE_STRIPE_API_KEY: 'sk_live_x' is not a Secrets Manager"),
        ({"services": {"actors": {**SERVICE, "nats_role": "admin"}}}, "services.actors.nats_role",
         "Input should be"),
    ],
)
def test_a_stack_with_a_secret_in_the_open_or_an_admin_task_is_refused(change: dict[str, Any], field: str,
                                                                       reason: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_stack({"name": "lw-test", "region": "us-east-1", "backing": BACKING, **change})
    assert refused.value.field == field and refused.value.reason.startswith(reason), refused.value
    assert "sk_live_x" not in str(refused.value) or "secrets" in field


def test_a_services_own_secrets_are_handed_and_readable_and_nothing_else(fake_aws: None) -> None:
    stripe = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lw/stripe-key"
    spec = parse_stack({"name": "lw-secrets", "region": "us-east-1", "backing": BACKING, "services": {"actors": {
        "image": "x", "secrets": {"LOREWEAVE_STRIPE_API_KEY": stripe}}}})
    aws = Clients(spec.region)
    apply(spec, aws)
    try:
        task = aws("ecs").describe_task_definition(taskDefinition="lw-secrets-actors")["taskDefinition"]
        handed = {s["name"]: s["valueFrom"] for s in task["containerDefinitions"][0]["secrets"]}
        assert handed["LOREWEAVE_STRIPE_API_KEY"] == stripe
        policy = aws("iam").get_role_policy(RoleName="lw-secrets-execution", PolicyName="read-secrets")
        resources = policy["PolicyDocument"]["Statement"][0]["Resource"]
        assert stripe in resources and len(resources) == 2  # the key and the actor node's NATS credential
    finally:
        destroy(spec, aws)


def test_destroy_deletes_the_credentials_and_groups(spec: StackSpec, aws: Clients) -> None:
    destroy(spec, aws)
    names = [s["Name"] for s in aws("secretsmanager").list_secrets()["SecretList"]]
    assert not any(name.startswith(f"{spec.name}/nats/") for name in names)
    groups = aws("ec2").describe_security_groups()["SecurityGroups"]
    assert not any(g["GroupName"].startswith(spec.name) for g in groups)
