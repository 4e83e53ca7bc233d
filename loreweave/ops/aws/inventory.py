"""``ops resources``: what of the stack exists on AWS, and what it costs per month."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from loreweave.ops.aws.desired import desired_resources
from loreweave.ops.aws.engine import _call, _read
from loreweave.ops.aws.resources import Clients, Current, Resource
from loreweave.ops.aws.stack import STACK_TAG, StackSpec
from loreweave.ops.prices import (
    CLOUDWATCH_ALARM_MONTH,
    CLOUDWATCH_DASHBOARD_MONTH,
    CLOUDWATCH_METRIC_MONTH,
    EBS_GP3_GIB_MONTH,
    FARGATE_GIB_HOUR,
    FARGATE_VCPU_HOUR,
    HOURS_PER_MONTH,
    SECRETS_MANAGER_SECRET_MONTH,
    instance_price,
)

Status = Literal["exists", "missing", "unmanaged"]


@dataclass(frozen=True)
class Item:
    """One resource of the inventory, its cost per month at its current size, and a note."""

    kind: str
    name: str
    status: Status
    monthly_usd: float = 0.0
    detail: str = ""


def _asg_cost(spec: StackSpec, resource: Resource, current: Current) -> tuple[float, str]:
    tier = next(t for n, t in spec.tiers.items() if resource.name == f"{spec.name}-{n}")
    running = int(current.outputs.get("desired", 0))
    on_demand = min(running, tier.on_demand_base)
    on_demand += math.ceil((running - on_demand) * (100 - tier.spot_pct_above_base) / 100)
    spot = running - on_demand
    price = instance_price(tier.instance_types[0])
    hourly = on_demand * price.on_demand + spot * price.spot
    volumes = running * resource.spec["volume_gib"] if "volume_gib" in resource.spec else running * 200
    monthly = hourly * HOURS_PER_MONTH + volumes * EBS_GP3_GIB_MONTH
    return monthly, (f"{running} x {tier.instance_types[0]} ({on_demand} on-demand, {spot} spot), "
                     f"max {current.state['max']}")


def _fargate_cost(spec: StackSpec, resource: Resource, current: Current) -> tuple[float, str]:
    service = spec.services[resource.name]
    tasks = int(current.outputs.get("desired", 0))
    hourly = tasks * (service.cpu / 1024 * FARGATE_VCPU_HOUR + service.memory / 1024 * FARGATE_GIB_HOUR)
    return hourly * HOURS_PER_MONTH, f"{tasks} Fargate tasks of {service.cpu} CPU / {service.memory} MiB"


def inactive_ecs(aws: Clients, arn: str) -> bool:
    """True for a deleted ECS cluster or service: ECS keeps them a while as INACTIVE, still tagged."""
    if ":ecs:" not in arn:
        return False
    resource = arn.split(":", 5)[5]
    if resource.startswith("cluster/"):
        clusters = aws("ecs").describe_clusters(clusters=[arn])["clusters"]
        return all(cluster["status"] == "INACTIVE" for cluster in clusters)
    if resource.startswith("service/"):
        services = aws("ecs").describe_services(cluster=resource.split("/")[1], services=[arn])["services"]
        return all(service["status"] == "INACTIVE" for service in services)
    return False


def inventory(spec: StackSpec, aws: Clients) -> list[Item]:
    """Every resource of the stack with its status and monthly cost, plus tagged strays.

    Costs are at the current size (running instances and tasks), on-demand and spot prices
    from :mod:`loreweave.ops.prices`; GPU tier services cost what their ASG's instances cost.
    """
    items: list[Item] = []
    known: set[str] = set()
    for resource in _call("network", lambda: desired_resources(spec, aws)):
        current = _read(aws, resource)
        if current is None:
            items.append(Item(resource.kind, resource.name, "missing"))
            continue
        for value in current.outputs.values():
            if isinstance(value, str):
                known.add(value.removesuffix(":*"))  # log group ARNs end in ':*' here only
        monthly, detail = 0.0, ""
        if resource.kind == "asg":
            monthly, detail = _asg_cost(spec, resource, current)
        elif resource.kind == "ecs_service" and resource.name in spec.services:
            monthly, detail = _fargate_cost(spec, resource, current)
        elif resource.kind == "ecs_service":
            detail = f"{current.outputs.get('desired', 0)} tasks (cost: its tier's ASG)"
        elif resource.kind == "metric_alarm":
            monthly = CLOUDWATCH_ALARM_MONTH
        elif resource.kind == "dashboard":
            monthly = CLOUDWATCH_DASHBOARD_MONTH
        elif resource.kind == "secret":
            monthly = SECRETS_MANAGER_SECRET_MONTH
        items.append(Item(resource.kind, resource.name, "exists", monthly, detail))

    metrics = _call("cloudwatch metrics", lambda: [
        m for page in aws("cloudwatch").get_paginator("list_metrics").paginate(
            Namespace=spec.metrics_namespace, Dimensions=[{"Name": "Stack", "Value": spec.name}])
        for m in page["Metrics"]])
    if metrics:
        items.append(Item("custom_metrics", spec.metrics_namespace, "exists",
                          len(metrics) * CLOUDWATCH_METRIC_MONTH, f"{len(metrics)} metrics"))

    tagged = _call("tagging", lambda: [
        r["ResourceARN"] for page in aws("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
            TagFilters=[{"Key": STACK_TAG, "Values": [spec.name]}]) for r in page["ResourceTagMappingList"]])
    for arn in sorted(set(tagged) - known):
        if ":instance/" in arn or ":volume/" in arn or ":network-interface/" in arn:
            continue  # launched by a tier's ASG (tags propagate at launch): costed in its line
        if _call(arn, lambda: inactive_ecs(aws, arn)):
            continue
        parts = arn.split(":", 5)
        items.append(Item(parts[2], parts[-1], "unmanaged", 0.0, "tagged with the stack but not in the spec"))
    return items


def monthly_total(items: list[Item]) -> float:
    """Dollars per month of the items that exist."""
    return sum(item.monthly_usd for item in items if item.status != "missing")
