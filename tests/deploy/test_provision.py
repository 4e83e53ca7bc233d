"""ECS provisioning end to end against moto: apply, apply again, drift, inventory, destroy."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from loreweave.cli.ops import ops_group
from loreweave.ops.aws import STACK_TAG, Clients, StackSpec, apply, destroy, load_stack, parse_stack, plan
from loreweave.ops.aws.inventory import inactive_ecs, inventory, monthly_total
from loreweave.ops.prices import EBS_GP3_GIB_MONTH, HOURS_PER_MONTH, instance_price
from loreweave.protocol.errors import ConfigError

from .conftest import STACK

pytestmark = pytest.mark.usefixtures("fake_aws")


@pytest.fixture(scope="module")
def spec() -> StackSpec:
    return load_stack(STACK)


@pytest.fixture(scope="module")
def aws(fake_aws: None, spec: StackSpec) -> Clients:
    return Clients(spec.region)


def _tagged(aws: Clients, spec: StackSpec) -> list[str]:
    pages = aws("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
        TagFilters=[{"Key": STACK_TAG, "Values": [spec.name]}])
    return [r["ResourceARN"] for page in pages for r in page["ResourceTagMappingList"]]


def test_plan_on_an_empty_account_creates_everything_and_changes_nothing(spec: StackSpec, aws: Clients) -> None:
    first = plan(spec, aws)
    assert first.count("create") == len(first.changes) > 40
    assert plan(spec, aws).count("create") == len(first.changes)
    assert aws("ecs").list_clusters()["clusterArns"] == []


def test_apply_builds_the_stack(spec: StackSpec, aws: Clients) -> None:
    done = apply(spec, aws)
    assert done.count("create") == len(done.changes)

    cluster = aws("ecs").describe_clusters(clusters=[spec.name])["clusters"][0]
    assert cluster["status"] == "ACTIVE"
    assert sorted(cluster["capacityProviders"]) == sorted(
        [f"lw-{spec.name}-{t}" for t in spec.tiers] + ["FARGATE", "FARGATE_SPOT"])
    groups = aws("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    assert sorted(g["AutoScalingGroupName"] for g in groups) == sorted(f"{spec.name}-{t}" for t in spec.tiers)
    gold = next(g for g in groups if g["AutoScalingGroupName"].endswith("-gold"))
    distribution = gold["MixedInstancesPolicy"]["InstancesDistribution"]
    assert distribution["OnDemandBaseCapacity"] == 1 and distribution["OnDemandPercentageAboveBaseCapacity"] == 0
    assert {t["Key"]: t["Value"] for t in gold["Tags"]}[STACK_TAG] == spec.name

    scaling = aws("application-autoscaling")
    policies = scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    custom = {p["PolicyName"]: p["TargetTrackingScalingPolicyConfiguration"] for p in policies}
    queue = custom[f"{spec.name}-gold-queue"]["CustomizedMetricSpecification"]
    assert queue["MetricName"] == "OngoingRequests" and queue["Namespace"] == "Loreweave"
    gpu = custom[f"{spec.name}-bronze-gpu"]
    assert gpu["TargetValue"] == 70.0 and gpu["CustomizedMetricSpecification"]["MetricName"] == "GPUUtilization"

    alarms = aws("cloudwatch").describe_alarms(AlarmNamePrefix=spec.name)["MetricAlarms"]
    names = {a["AlarmName"] for a in alarms}
    for tier in spec.tiers:
        assert {f"{spec.name}-{tier}-{kind}" for kind in ("down", "errors", "gpu-exhausted", "latency")} <= names
    topic = f"arn:aws:sns:{spec.region}:{aws.account}:{spec.name}-alerts"
    assert all(a["AlarmActions"] == [topic] for a in alarms if a["AlarmName"] in names)
    assert aws("cloudwatch").get_dashboard(DashboardName=f"{spec.name}-overview")["DashboardBody"]

    task = aws("ecs").describe_task_definition(taskDefinition=f"{spec.name}-gold")["taskDefinition"]
    serve = next(c for c in task["containerDefinitions"] if c["name"] == "serve")
    assert serve["resourceRequirements"] == [{"type": "GPU", "value": "1"}]
    assert [s["name"] for s in serve["secrets"]] == ["LOREWEAVE_NATS_URL"], "GPU tiers do not get the database"
    actors = aws("ecs").describe_task_definition(taskDefinition=f"{spec.name}-actors")["taskDefinition"]
    (container,) = actors["containerDefinitions"]
    assert all(e["name"] != "LOREWEAVE_NATS_URL" for e in container["environment"])
    assert {"name": "LOREWEAVE_DATABASE_URL", "valueFrom": spec.backing.database_url_secret} in container["secrets"]
    grant = aws("iam").get_role_policy(RoleName=f"{spec.name}-execution", PolicyName="read-database-url")
    statement = grant["PolicyDocument"]["Statement"][0]
    assert statement["Action"] == ["secretsmanager:GetSecretValue"]
    assert statement["Resource"] == [spec.backing.database_url_secret]
    tagged = _tagged(aws, spec)
    assert any(":cluster/" in arn for arn in tagged) and any(":sns:" in arn for arn in tagged)
    assert any(":alarm:" in arn for arn in tagged)


def test_second_apply_changes_nothing(spec: StackSpec, aws: Clients) -> None:
    revisions = aws("ecs").list_task_definitions(familyPrefix=f"{spec.name}-gold")["taskDefinitionArns"]
    again = apply(spec, aws)
    assert again.empty, [c.label for c in again.changes if c.action != "unchanged"]
    assert plan(spec, aws).empty
    assert aws("ecs").list_task_definitions(familyPrefix=f"{spec.name}-gold")["taskDefinitionArns"] == revisions


def test_drift_is_planned_and_repaired(spec: StackSpec, aws: Clients) -> None:
    aws("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId=f"service/{spec.name}/silver",
        ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=40)
    aws("cloudwatch").untag_resource(
        ResourceARN=aws("cloudwatch").describe_alarms(AlarmNames=[f"{spec.name}-gold-latency"])
        ["MetricAlarms"][0]["AlarmArn"], TagKeys=[STACK_TAG])
    drift = {c.label: c.fields for c in plan(spec, aws).changes if c.action != "unchanged"}
    assert drift == {f"scalable_target/service/{spec.name}/silver": ("max",),
                     f"metric_alarm/{spec.name}-gold-latency": ("tags",)}
    repaired = apply(spec, aws)
    assert repaired.count("update") == 2
    assert plan(spec, aws).empty


def test_resources_lists_what_exists_and_its_monthly_cost(spec: StackSpec, aws: Clients) -> None:
    aws("autoscaling").set_desired_capacity(AutoScalingGroupName=f"{spec.name}-bronze", DesiredCapacity=3)
    items = inventory(spec, aws)
    assert all(item.status == "exists" for item in items)
    bronze = next(i for i in items if i.kind == "asg" and i.name == f"{spec.name}-bronze")
    price = instance_price(spec.tiers["bronze"].instance_types[0])
    # on_demand_base 1, then spot: one on-demand and two spot instances, each with its 200 GiB volume.
    expected = (price.on_demand + 2 * price.spot) * HOURS_PER_MONTH + 3 * 200 * EBS_GP3_GIB_MONTH
    assert bronze.monthly_usd == pytest.approx(expected)
    assert "1 on-demand, 2 spot" in bronze.detail
    alarms = [i for i in items if i.kind == "metric_alarm"]
    assert monthly_total(items) > bronze.monthly_usd + 0.1 * len(alarms)

    result = CliRunner().invoke(ops_group, ["resources", "--stack", str(STACK)])
    assert result.exit_code == 0, result.output
    assert f"{spec.name}-bronze" in result.output and "total" in result.output
    aws("autoscaling").set_desired_capacity(AutoScalingGroupName=f"{spec.name}-bronze", DesiredCapacity=0)


def test_destroy_leaves_nothing(spec: StackSpec, aws: Clients) -> None:
    done = destroy(spec, aws)
    assert done.count("delete") == len(done.changes)
    assert plan(spec, aws).count("create") == len(done.changes)
    left = _tagged(aws, spec)
    instances = [arn.rsplit("/", 1)[1] for arn in left if ":instance/" in arn]
    assert [arn for arn in left if ":instance/" not in arn and ":volume/" not in arn
            and not inactive_ecs(aws, arn)] == []
    if instances:  # an ASG's force delete terminates its instances
        reservations = aws("ec2").describe_instances(InstanceIds=instances)["Reservations"]
        states = {i["State"]["Name"] for r in reservations for i in r["Instances"]}
        assert states <= {"terminated", "shutting-down"}, states
    assert aws("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"] == []
    assert aws("ecs").describe_clusters(clusters=[spec.name])["clusters"][0]["status"] == "INACTIVE"
    assert aws("cloudwatch").describe_alarms(AlarmNamePrefix=spec.name)["MetricAlarms"] == []
    assert [r["RoleName"] for r in aws("iam").list_roles()["Roles"] if r["RoleName"].startswith(spec.name)] == []
    assert all(item.status == "missing" for item in inventory(spec, aws))
    assert destroy(spec, aws).count("delete") == 0


BACKING = {"nats_url": "nats://nats.internal:4222",
           "database_url_secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:lw/db"}


@pytest.mark.parametrize(
    ("backing", "field", "reason"),
    [
        (None, "backing", "Field required"),
        ({**BACKING, "nats_url": "http://nats:4222"}, "backing.nats_url", "String should match pattern"),
        ({**BACKING, "database_url_secret": "postgresql://u:p@db/lw"}, "backing.database_url_secret",
         "String should match pattern"),
    ],
)
def test_a_stack_names_the_bus_and_the_database_secret(backing: dict[str, str] | None, field: str, reason: str) -> None:
    data: dict[str, object] = {"name": "lw-test", "region": "us-east-1"}
    if backing is not None:
        data["backing"] = backing
    with pytest.raises(ConfigError) as refused:
        parse_stack(data)
    assert refused.value.field == field and refused.value.reason.startswith(reason), refused.value


def test_bad_stack_is_refused_with_field_and_reason() -> None:
    data = {"name": "lw-test", "region": "us-east-1", "backing": BACKING, "tiers": {"gold": {
        "image": "x", "instance_types": ["g6.2xlarge"], "gpus_per_task": 4, "cpu": 1024, "memory": 4096,
        "max_tasks": 2}}}
    with pytest.raises(ConfigError) as refused:
        parse_stack(data)
    assert refused.value.field == "tiers.gold"
    assert "g6.2xlarge has 1 GPUs, a task needs gpus_per_task=4" in refused.value.reason
    data["tiers"]["gold"]["gpus_per_task"] = 1  # type: ignore[index]
    data["tiers"]["gold"]["max_taks"] = 3  # type: ignore[index]
    with pytest.raises(ConfigError) as typo:
        parse_stack(data)
    assert (typo.value.field, typo.value.reason) == ("tiers.gold.max_taks", "is not a known field")
