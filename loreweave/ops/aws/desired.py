"""What a stack spec wants, as an ordered list of resources (dependencies first)."""

from __future__ import annotations

from typing import Any

from loreweave.ops.aws.resources import Clients, Ref, Resource
from loreweave.ops.aws.stack import StackSpec, TierSpec
from loreweave.ops.metrics.snapshot import ERROR_RATE, GPU_MEMORY, GPU_UTILIZATION, LATENCY_P95, ONGOING_REQUESTS
from loreweave.protocol.errors import ConfigError

#: The GPU-optimised ECS AMI, resolved by EC2 at each launch (so new instances get patches).
GPU_AMI = "resolve:ssm:/aws/service/ecs/optimized-ami/amazon-linux-2/gpu/recommended/image_id"
_POLICY = "arn:aws:iam::aws:policy/"


def network(spec: StackSpec, aws: Clients) -> tuple[str, list[str], list[str]]:
    """The VPC, its subnets, and the extra security groups the spec lists (none by default).

    Raises:
        ConfigError: if the spec names no subnets and the region has no default VPC.
    """
    subnets, groups = list(spec.network.subnets), list(spec.network.security_groups)
    ec2 = aws("ec2")
    if subnets:
        found = ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"]
        return found[0]["VpcId"], sorted(subnets), sorted(groups)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise ConfigError("network.subnets", f"no default VPC in {spec.region}: list subnets")
    vpc = vpcs[0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    return vpc, sorted(subnets), sorted(groups)


def nats_secret_name(spec: StackSpec, role: str) -> str:
    """The Secrets Manager secret holding the NATS credential of ``role`` (``<stack>/nats/<role>``)."""
    return f"{spec.name}/nats/{role}"


def task_roles(spec: StackSpec) -> list[str]:
    """The bus roles the stack's tasks connect as (tiers' metrics publishers as ``ops``)."""
    roles = {service.nats_role for service in spec.services.values()}
    roles |= {tier.nats_role for tier in spec.tiers.values()}
    if spec.tiers:
        roles.add("ops")
    return sorted(roles)


def _nats_url_from(spec: StackSpec, role: str) -> dict[str, Any]:
    return {"name": "LOREWEAVE_NATS_URL", "valueFrom": Ref("secret", nats_secret_name(spec, role), "url_from")}


def _container(spec: StackSpec, name: str, image: str, command: list[str], env: dict[str, str],
               log_group: str, role: str, gpus: int = 0, essential: bool = True, database: bool = False,
               secrets: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name, "image": image, "essential": essential,
        "environment": sorted(({"name": k, "value": v} for k, v in env.items()), key=lambda e: e["name"]),
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": log_group, "awslogs-region": spec.region, "awslogs-stream-prefix": name}},
    }
    # Credentials only through Secrets Manager: ECS reads them with the execution role at start.
    handed = [_nats_url_from(spec, role)]
    if database:
        handed.append({"name": "LOREWEAVE_DATABASE_URL", "valueFrom": spec.backing.database_url_secret})
    handed += [{"name": k, "valueFrom": v} for k, v in (secrets or {}).items()]
    container["secrets"] = sorted(handed, key=lambda e: e["name"])
    if command:
        container["command"] = list(command)
    if gpus:
        container["resourceRequirements"] = [{"type": "GPU", "value": str(gpus)}]
    return container


def _read_secret_policy(arn: str) -> dict[str, Any]:
    """What the task execution role needs to hand the database secret to the services' containers."""
    action = "ssm:GetParameters" if ":ssm:" in arn else "secretsmanager:GetSecretValue"
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": [action], "Resource": [arn]}]}


def _read_secrets_policy(arns: list[Any]) -> dict[str, Any]:
    """Read exactly these secrets (NATS credentials, the services' own ``secrets``) and nothing else."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": list(arns)}]}


def _tier_containers(spec: StackSpec, name: str, tier: TierSpec, log_group: str) -> list[dict[str, Any]]:
    env = {**tier.environment, "LOREWEAVE_TIER": name, "LOREWEAVE_STACK": spec.name}
    serve = _container(spec, "serve", tier.image, tier.command, env, log_group, tier.nats_role,
                       gpus=tier.gpus_per_task)
    # The publisher sees the task's GPUs through the NVIDIA runtime, which the GPU AMI makes the default.
    metrics_env = {**env, "NVIDIA_VISIBLE_DEVICES": "all"}
    metrics = _container(spec, "metrics", tier.image,
                         ["loreweave", "ops", "metrics", "--tier", name, "--stack", spec.name,
                          "--namespace", spec.metrics_namespace],
                         metrics_env, log_group, "ops", essential=False)
    return [serve, metrics]


def _alarm(spec: StackSpec, name: str, component: str, tier: str | None, **fields: Any) -> Resource:
    body = {"missing_data": "notBreaching", "topic_arn": Ref("sns_topic", f"{spec.name}-alerts"), **fields}
    return Resource("metric_alarm", f"{spec.name}-{name}", body, spec.tags_for(component, tier))


def desired_resources(spec: StackSpec, aws: Clients) -> list[Resource]:
    """Every resource of the stack, in creation order (destroy runs it backwards)."""
    stack = spec.name
    vpc, subnets, extra_groups = network(spec, aws)
    log_group = f"/loreweave/{stack}"
    cluster = stack
    tasks_group = Ref("security_group", f"{stack}-tasks", "id")
    # Tasks and GPU instances accept no connection (they are the bus's and database's clients); the
    # backing servers' group admits the tasks' group, on the NATS and PostgreSQL ports only.
    groups: list[Any] = [tasks_group, *extra_groups]
    nats_secrets = {role: nats_secret_name(spec, role) for role in task_roles(spec)}
    service_secrets = sorted({arn for service in spec.services.values() for arn in service.secrets.values()})
    server = spec.backing.nats_url  # no credentials in it: the spec refuses them
    resources: list[Resource] = [
        Resource("security_group", f"{stack}-tasks", {
            "vpc": vpc, "description": f"Loreweave {stack}: its ECS tasks and GPU instances (no ingress)",
            "ingress": []}, spec.tags_for("network")),
        Resource("security_group", f"{stack}-backing", {
            "vpc": vpc, "description": f"Loreweave {stack}: NATS and PostgreSQL, reached from its tasks only",
            "ingress": [{"port": port, "from_group": tasks_group}
                        for port in sorted({spec.backing.nats_port, spec.backing.database_port})]},
            spec.tags_for("network")),
        *(Resource("secret", name, {
            "role": role, "server": server,
            "description": f"Loreweave {stack}: NATS credential of the {role} role (user, password, url)"},
            spec.tags_for("secrets")) for role, name in nats_secrets.items()),
        Resource("sns_topic", f"{stack}-alerts", {"emails": sorted(spec.alerts.emails)}, spec.tags_for("alerts")),
        Resource("iam_role", f"{stack}-instance", {
            "service": "ec2.amazonaws.com", "instance_profile": True,
            "policies": sorted([_POLICY + "service-role/AmazonEC2ContainerServiceforEC2Role",
                                _POLICY + "AmazonSSMManagedInstanceCore"])}, spec.tags_for("iam")),
        Resource("iam_role", f"{stack}-execution", {
            "service": "ecs-tasks.amazonaws.com", "instance_profile": False,
            "policies": [_POLICY + "service-role/AmazonECSTaskExecutionRolePolicy"],
            "inline": {
                "read-database-url": _read_secret_policy(spec.backing.database_url_secret),
                "read-secrets": _read_secrets_policy(
                    [*(Ref("secret", name) for name in nats_secrets.values()), *service_secrets]),
            }},
            spec.tags_for("iam")),
        Resource("iam_role", f"{stack}-task", {
            "service": "ecs-tasks.amazonaws.com", "instance_profile": False,
            "policies": [_POLICY + "CloudWatchAgentServerPolicy"]}, spec.tags_for("iam")),
        Resource("log_group", log_group, {"retention_days": 30}, spec.tags_for("logs")),
        Resource("ecs_cluster", cluster, {"container_insights": "enabled"}, spec.tags_for("cluster")),
    ]
    providers = []
    for name, tier in spec.tiers.items():
        tags = spec.tags_for("gpu-tier", name)
        group = f"{stack}-{name}"
        user_data = (f"#!/bin/bash\ncat >> /etc/ecs/ecs.config <<EOF\nECS_CLUSTER={cluster}\n"
                     f"ECS_ENABLE_GPU_SUPPORT=true\nECS_INSTANCE_ATTRIBUTES={{\"loreweave.tier\": \"{name}\"}}\n"
                     "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true\nEOF\n")
        resources += [
            Resource("launch_template", group, {
                "image_id": GPU_AMI, "instance_type": tier.instance_types[0],
                "profile_arn": Ref("iam_role", f"{stack}-instance", "profile_arn"),
                "user_data": user_data, "volume_gib": 200, "security_groups": groups}, tags),
            Resource("asg", group, {
                "launch_template": group, "instance_types": list(tier.instance_types), "min": 0,
                "max": tier.max_instances, "on_demand_base": tier.on_demand_base,
                "spot_pct_above_base": tier.spot_pct_above_base, "subnets": subnets}, tags),
            Resource("capacity_provider", f"lw-{stack}-{name}", {
                "asg_arn": Ref("asg", group), "max_step": max(1, tier.max_instances), "warmup_s": 300}, tags),
        ]
        providers.append(f"lw-{stack}-{name}")
    resources.append(Resource("cluster_providers", cluster, {
        "providers": sorted([*providers, "FARGATE", "FARGATE_SPOT"]), "default": "FARGATE"}))

    roles = {"execution_role": Ref("iam_role", f"{stack}-execution"), "task_role": Ref("iam_role", f"{stack}-task")}
    workloads: list[tuple[str, str, int, int, str | None]] = []
    for name, service in spec.services.items():
        env = {**service.environment, "LOREWEAVE_STACK": stack}
        containers = [_container(spec, name, service.image, service.command, env, log_group, service.nats_role,
                                 database=True, secrets=service.secrets)]
        resources.append(Resource("task_definition", f"{stack}-{name}", {
            "containers": containers, "cpu": str(service.cpu), "memory": str(service.memory),
            "compatibility": "FARGATE", **roles}, spec.tags_for("service")))
        workloads.append((name, "FARGATE", service.min_tasks, service.max_tasks, None))
    for name, tier in spec.tiers.items():
        resources.append(Resource("task_definition", f"{stack}-{name}", {
            "containers": _tier_containers(spec, name, tier, log_group), "cpu": str(tier.cpu),
            "memory": str(tier.memory), "compatibility": "EC2", **roles}, spec.tags_for("gpu-tier", name)))
        workloads.append((name, f"lw-{stack}-{name}", tier.min_tasks, tier.max_tasks, name))

    for name, placement, low, high, tier_name in workloads:
        component = "gpu-tier" if tier_name else "service"
        tags = spec.tags_for(component, tier_name)
        resources.append(Resource("ecs_service", name, {
            "cluster": cluster, "task_definition": Ref("task_definition", f"{stack}-{name}"),
            "capacity_provider": placement, "subnets": subnets, "security_groups": groups,
            "public_ip": spec.network.assign_public_ip, "initial_tasks": low}, tags))
        target_id = f"service/{cluster}/{name}"
        resources.append(Resource("scalable_target", target_id, {"min": low, "max": high}, tags))
        resources += _policies(spec, name, target_id)
    resources += _alarms(spec, cluster)
    resources.append(Resource("dashboard", f"{stack}-overview", {"body": _dashboard(spec, cluster)}))
    return resources


def _policies(spec: StackSpec, name: str, target_id: str) -> list[Resource]:
    def policy(suffix: str, target: float, metric: dict[str, Any]) -> Resource:
        return Resource("scaling_policy", f"{spec.name}-{name}-{suffix}", {
            "resource_id": target_id, "target": float(target), "metric": metric,
            "scale_out_cooldown_s": 60, "scale_in_cooldown_s": 300})

    if name in spec.services:
        return [policy("cpu", spec.services[name].cpu_target_pct,
                       {"predefined": "ECSServiceAverageCPUUtilization"})]
    tier = spec.tiers[name]
    dimensions = {"Stack": spec.name, "Tier": name}
    return [
        policy("gpu", tier.gpu_utilization_target_pct, {"namespace": spec.metrics_namespace,
               "name": GPU_UTILIZATION, "dimensions": dimensions, "statistic": "Average"}),
        policy("queue", tier.queue_depth_target, {"namespace": spec.metrics_namespace,
               "name": ONGOING_REQUESTS, "dimensions": dimensions, "statistic": "Average"}),
    ]


def _alarms(spec: StackSpec, cluster: str) -> list[Resource]:
    alarms = []
    for name in [*spec.services, *spec.tiers]:
        tier_name = name if name in spec.tiers else None
        component = "gpu-tier" if tier_name else "service"
        alarms.append(_alarm(
            spec, f"{name}-down", component, tier_name, description=f"{name}: no running task for 3 minutes",
            namespace="ECS/ContainerInsights", metric="RunningTaskCount",
            dimensions={"ClusterName": cluster, "ServiceName": name}, statistic="Minimum", period_s=60,
            evaluation_periods=3, threshold=1.0, comparison="LessThanThreshold", missing_data="breaching"))
    for name, tier in spec.tiers.items():
        dimensions = {"Stack": spec.name, "Tier": name}
        namespace = spec.metrics_namespace
        alarms += [
            _alarm(spec, f"{name}-errors", "gpu-tier", name,
                   description=f"{name}: more than {spec.alarms.error_rate_pct:g}% of requests failed",
                   namespace=namespace, metric=ERROR_RATE, dimensions=dimensions, statistic="Average",
                   period_s=300, evaluation_periods=2, threshold=float(spec.alarms.error_rate_pct),
                   comparison="GreaterThanThreshold"),
            _alarm(spec, f"{name}-gpu-exhausted", "gpu-tier", name,
                   description=(f"{name}: GPUs above {spec.alarms.gpu_exhaustion_pct:g}% for "
                                f"{spec.alarms.gpu_exhaustion_minutes} minutes; raise max_tasks"),
                   namespace=namespace, metric=GPU_UTILIZATION, dimensions=dimensions, statistic="Average",
                   period_s=300, evaluation_periods=max(1, spec.alarms.gpu_exhaustion_minutes // 5),
                   threshold=float(spec.alarms.gpu_exhaustion_pct), comparison="GreaterThanThreshold"),
            _alarm(spec, f"{name}-latency", "gpu-tier", name,
                   description=f"{name}: p95 latency above {tier.latency_p95_alarm_ms:g} ms for 5 minutes",
                   namespace=namespace, metric=LATENCY_P95, dimensions=dimensions, statistic="Maximum",
                   period_s=60, evaluation_periods=5, threshold=float(tier.latency_p95_alarm_ms),
                   comparison="GreaterThanThreshold"),
        ]
    return alarms


def _dashboard(spec: StackSpec, cluster: str) -> dict[str, Any]:
    def widget(title: str, metrics: list[list[Any]], y: int, x: int) -> dict[str, Any]:
        return {"type": "metric", "x": x, "y": y, "width": 8, "height": 6, "properties": {
            "title": title, "region": spec.region, "stat": "Average", "period": 60, "view": "timeSeries",
            "metrics": metrics}}

    namespace = spec.metrics_namespace
    widgets = []
    for row, name in enumerate(spec.tiers):
        dims = ["Stack", spec.name, "Tier", name]
        widgets += [
            widget(f"{name}: GPU utilisation and memory %",
                   [[namespace, GPU_UTILIZATION, *dims], [namespace, GPU_MEMORY, *dims]], row * 6, 0),
            widget(f"{name}: ongoing requests per task, p95 latency ms",
                   [[namespace, ONGOING_REQUESTS, *dims], [namespace, LATENCY_P95, *dims, {"yAxis": "right"}]],
                   row * 6, 8),
            widget(f"{name}: running tasks",
                   [["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", cluster, "ServiceName", name]],
                   row * 6, 16),
        ]
    for index, name in enumerate(spec.services):
        widgets.append(widget(f"{name}: CPU % and running tasks", [
            ["AWS/ECS", "CPUUtilization", "ClusterName", cluster, "ServiceName", name],
            ["ECS/ContainerInsights", "RunningTaskCount", "ClusterName", cluster, "ServiceName", name,
             {"yAxis": "right"}]], len(spec.tiers) * 6, index * 8))
    return {"widgets": widgets}
