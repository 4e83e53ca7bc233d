"""ECS: the cluster, the tiers' capacity providers, task definitions and services."""

from __future__ import annotations

from typing import Any, Mapping

from loreweave.ops.aws.resources import Clients, Current, Resource, tag_dict, tag_list

_ACTIVE = "ACTIVE"


class ClusterHandler:
    """``ecs_cluster``: spec ``{"container_insights": "enabled"}``; outputs ``arn``."""

    kind = "ecs_cluster"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        clusters = aws("ecs").describe_clusters(clusters=[resource.name], include=["TAGS", "SETTINGS"])["clusters"]
        if not clusters or clusters[0]["status"] != _ACTIVE:
            return None
        cluster = clusters[0]
        settings = {s["name"]: s["value"] for s in cluster.get("settings", [])}
        state = {"container_insights": settings.get("containerInsights", "disabled")}
        return Current(state, tag_dict(cluster.get("tags"), "key", "value"), {"arn": cluster["clusterArn"]})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("ecs").create_cluster(
            clusterName=resource.name, tags=tag_list(resource.tags, "key", "value"),
            settings=[{"name": "containerInsights", "value": spec["container_insights"]}])

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        ecs = aws("ecs")
        ecs.update_cluster_settings(
            cluster=resource.name, settings=[{"name": "containerInsights", "value": spec["container_insights"]}])
        ecs.tag_resource(resourceArn=current.outputs["arn"], tags=tag_list(resource.tags, "key", "value"))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("ecs").delete_cluster(cluster=resource.name)


class CapacityProviderHandler:
    """``capacity_provider``: spec ``{"asg_arn", "max_step", "warmup_s"}``; outputs ``arn``."""

    kind = "capacity_provider"

    @staticmethod
    def _scaling(spec: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "status": "ENABLED", "targetCapacity": 100, "minimumScalingStepSize": 1,
            "maximumScalingStepSize": spec["max_step"], "instanceWarmupPeriod": spec["warmup_s"],
        }

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        found = aws("ecs").describe_capacity_providers(
            capacityProviders=[resource.name], include=["TAGS"])["capacityProviders"]
        found = [p for p in found if p.get("status") == _ACTIVE]
        if not found:
            return None
        provider = found[0]
        group = provider["autoScalingGroupProvider"]
        scaling = group.get("managedScaling", {})
        state = {"asg_arn": group["autoScalingGroupArn"],
                 "max_step": scaling.get("maximumScalingStepSize"),
                 "warmup_s": scaling.get("instanceWarmupPeriod")}
        tags = tag_dict(provider.get("tags"), "key", "value")
        return Current(state, tags, {"arn": provider["capacityProviderArn"]})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("ecs").create_capacity_provider(
            name=resource.name,
            autoScalingGroupProvider={"autoScalingGroupArn": spec["asg_arn"],
                                      "managedScaling": self._scaling(spec),
                                      "managedTerminationProtection": "ENABLED"},
            tags=tag_list(resource.tags, "key", "value"))

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        ecs = aws("ecs")
        ecs.update_capacity_provider(
            name=resource.name,
            autoScalingGroupProvider={"managedScaling": self._scaling(spec),
                                      "managedTerminationProtection": "ENABLED"})
        ecs.tag_resource(resourceArn=current.outputs["arn"], tags=tag_list(resource.tags, "key", "value"))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("ecs").delete_capacity_provider(capacityProvider=resource.name)


class ClusterProvidersHandler:
    """``cluster_providers``: the capacity providers attached to the cluster; spec ``{"providers", "default"}``."""

    kind = "cluster_providers"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        clusters = aws("ecs").describe_clusters(clusters=[resource.name])["clusters"]
        if not clusters or clusters[0]["status"] != _ACTIVE or not clusters[0].get("capacityProviders"):
            return None
        cluster = clusters[0]
        strategy = cluster.get("defaultCapacityProviderStrategy") or [{}]
        state = {"providers": sorted(cluster["capacityProviders"]), "default": strategy[0].get("capacityProvider")}
        return Current(state, {}, {})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("ecs").put_cluster_capacity_providers(
            cluster=resource.name, capacityProviders=list(spec["providers"]),
            defaultCapacityProviderStrategy=[{"capacityProvider": spec["default"], "weight": 1, "base": 0}])

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        self.create(aws, resource, spec)

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("ecs").put_cluster_capacity_providers(
            cluster=resource.name, capacityProviders=[], defaultCapacityProviderStrategy=[])


_CONTAINER_KEYS = ("name", "image", "essential", "command", "environment", "secrets", "logConfiguration",
                   "resourceRequirements")


class TaskDefinitionHandler:
    """``task_definition``: one family; spec ``{"containers", "cpu", "memory", "compatibility",
    "execution_role", "task_role"}``; a change registers a new revision; outputs ``arn``."""

    kind = "task_definition"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        ecs = aws("ecs")
        try:
            found = ecs.describe_task_definition(taskDefinition=resource.name, include=["TAGS"])
        except ecs.exceptions.ClientException:
            return None
        task = found["taskDefinition"]
        if task.get("status") != _ACTIVE:
            return None
        containers = [
            {key: container[key] for key in _CONTAINER_KEYS if container.get(key) not in (None, [])}
            for container in task["containerDefinitions"]
        ]
        for container in containers:
            if "environment" in container:
                container["environment"] = sorted(container["environment"], key=lambda e: e["name"])
        state = {
            "containers": containers,
            "cpu": str(task.get("cpu")),
            "memory": str(task.get("memory")),
            "compatibility": (task.get("requiresCompatibilities") or ["EC2"])[0],
            "execution_role": task.get("executionRoleArn"),
            "task_role": task.get("taskRoleArn"),
        }
        tags = tag_dict(found.get("tags"), "key", "value")
        return Current(state, tags, {"arn": task["taskDefinitionArn"], "revision": task["revision"]})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("ecs").register_task_definition(
            family=resource.name, networkMode="awsvpc",
            requiresCompatibilities=[spec["compatibility"]], cpu=spec["cpu"], memory=spec["memory"],
            executionRoleArn=spec["execution_role"], taskRoleArn=spec["task_role"],
            containerDefinitions=list(spec["containers"]), tags=tag_list(resource.tags, "key", "value"))

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        if {k: v for k, v in spec.items()} != dict(current.state):
            self.create(aws, resource, spec)
        else:
            aws("ecs").tag_resource(resourceArn=current.outputs["arn"],
                                    tags=tag_list(resource.tags, "key", "value"))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        ecs = aws("ecs")
        arns = [arn for page in ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=resource.name, status=_ACTIVE) for arn in page["taskDefinitionArns"]]
        for arn in arns:
            ecs.deregister_task_definition(taskDefinition=arn)
        if arns:
            ecs.delete_task_definitions(taskDefinitions=arns)


class ServiceHandler:
    """``ecs_service``: spec ``{"cluster", "task_definition", "capacity_provider", "subnets",
    "security_groups", "public_ip", "initial_tasks"}``; desired count belongs to Application
    Auto Scaling after creation; outputs ``arn``, ``desired``."""

    kind = "ecs_service"

    @staticmethod
    def _network(spec: Mapping[str, Any]) -> dict[str, Any]:
        config: dict[str, Any] = {"subnets": list(spec["subnets"]),
                                  "assignPublicIp": "ENABLED" if spec["public_ip"] else "DISABLED"}
        if spec["security_groups"]:
            config["securityGroups"] = list(spec["security_groups"])
        return {"awsvpcConfiguration": config}

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        cluster, ecs = resource.spec["cluster"], aws("ecs")
        try:
            services = ecs.describe_services(
                cluster=cluster, services=[resource.name], include=["TAGS"]).get("services", [])
        except ecs.exceptions.ClusterNotFoundException:
            return None
        services = [s for s in services if s.get("status") == _ACTIVE]
        if not services:
            return None
        service = services[0]
        strategy = service.get("capacityProviderStrategy")
        if strategy:
            placement = strategy[0]["capacityProvider"]
        elif service.get("launchType") == "FARGATE":
            placement = "FARGATE"
        else:
            # Not reported (some ECS emulators drop it): placement cannot change in place anyway.
            placement = resource.spec["capacity_provider"]
        network = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        state = {
            "cluster": cluster,
            "task_definition": service["taskDefinition"],
            "capacity_provider": placement,
            "subnets": sorted(network.get("subnets", [])),
            "security_groups": sorted(network.get("securityGroups", [])),
            "public_ip": network.get("assignPublicIp") == "ENABLED",
            "initial_tasks": resource.spec["initial_tasks"],
        }
        outputs = {"arn": service["serviceArn"], "desired": service["desiredCount"],
                   "running": service.get("runningCount", 0)}
        return Current(state, tag_dict(service.get("tags"), "key", "value"), outputs)

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        placement: dict[str, Any]
        if spec["capacity_provider"] == "FARGATE":
            placement = {"launchType": "FARGATE"}
        else:
            placement = {"capacityProviderStrategy": [
                {"capacityProvider": spec["capacity_provider"], "weight": 1, "base": 0}]}
        aws("ecs").create_service(
            cluster=spec["cluster"], serviceName=resource.name, taskDefinition=spec["task_definition"],
            desiredCount=spec["initial_tasks"], networkConfiguration=self._network(spec),
            deploymentConfiguration={"maximumPercent": 200, "minimumHealthyPercent": 100,
                                     "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
            propagateTags="SERVICE", enableECSManagedTags=True,
            tags=tag_list(resource.tags, "key", "value"), **placement)

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        ecs = aws("ecs")
        ecs.update_service(cluster=spec["cluster"], service=resource.name,
                           taskDefinition=spec["task_definition"], networkConfiguration=self._network(spec))
        ecs.tag_resource(resourceArn=current.outputs["arn"], tags=tag_list(resource.tags, "key", "value"))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        ecs = aws("ecs")
        ecs.update_service(cluster=resource.spec["cluster"], service=resource.name, desiredCount=0)
        ecs.delete_service(cluster=resource.spec["cluster"], service=resource.name, force=True)
