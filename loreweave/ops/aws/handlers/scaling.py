"""Application Auto Scaling: each service's task count bounds and its target-tracking policies."""

from __future__ import annotations

from typing import Any, Mapping

from loreweave.ops.aws.resources import Clients, Current, Resource, tag_dict

_NAMESPACE = "ecs"
_DIMENSION = "ecs:service:DesiredCount"


class ScalableTargetHandler:
    """``scalable_target``: name is the resource id ``service/<cluster>/<service>``;
    spec ``{"min", "max"}``; outputs ``arn``."""

    kind = "scalable_target"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        targets = aws("application-autoscaling").describe_scalable_targets(
            ServiceNamespace=_NAMESPACE, ResourceIds=[resource.name],
            ScalableDimension=_DIMENSION)["ScalableTargets"]
        if not targets:
            return None
        target = targets[0]
        state = {"min": target["MinCapacity"], "max": target["MaxCapacity"]}
        # Tags of scalable targets are write-only here: listed by the tagging API, not compared.
        return Current(state, dict(resource.tags), {"arn": target.get("ScalableTargetARN", resource.name)})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("application-autoscaling").register_scalable_target(
            ServiceNamespace=_NAMESPACE, ResourceId=resource.name, ScalableDimension=_DIMENSION,
            MinCapacity=spec["min"], MaxCapacity=spec["max"], Tags=dict(resource.tags))

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        aws("application-autoscaling").register_scalable_target(
            ServiceNamespace=_NAMESPACE, ResourceId=resource.name, ScalableDimension=_DIMENSION,
            MinCapacity=spec["min"], MaxCapacity=spec["max"])

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("application-autoscaling").deregister_scalable_target(
            ServiceNamespace=_NAMESPACE, ResourceId=resource.name, ScalableDimension=_DIMENSION)


class ScalingPolicyHandler:
    """``scaling_policy``: a target-tracking policy; spec ``{"resource_id", "target",
    "metric"}`` where metric is ``{"predefined": type}`` or ``{"namespace", "name",
    "dimensions", "statistic"}``; plus ``scale_out_cooldown_s`` / ``scale_in_cooldown_s``."""

    kind = "scaling_policy"

    @staticmethod
    def _configuration(spec: Mapping[str, Any]) -> dict[str, Any]:
        metric = spec["metric"]
        configuration: dict[str, Any] = {
            "TargetValue": float(spec["target"]),
            "ScaleOutCooldown": int(spec["scale_out_cooldown_s"]),
            "ScaleInCooldown": int(spec["scale_in_cooldown_s"]),
            "DisableScaleIn": False,
        }
        if "predefined" in metric:
            configuration["PredefinedMetricSpecification"] = {"PredefinedMetricType": metric["predefined"]}
        else:
            configuration["CustomizedMetricSpecification"] = {
                "MetricName": metric["name"], "Namespace": metric["namespace"],
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(metric["dimensions"].items())],
                "Statistic": metric["statistic"],
            }
        return configuration

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        policies = aws("application-autoscaling").describe_scaling_policies(
            ServiceNamespace=_NAMESPACE, ResourceId=resource.spec["resource_id"],
            ScalableDimension=_DIMENSION, PolicyNames=[resource.name])["ScalingPolicies"]
        policies = [p for p in policies if p["PolicyName"] == resource.name]
        if not policies:
            return None
        policy = policies[0]
        configuration = policy["TargetTrackingScalingPolicyConfiguration"]
        if "PredefinedMetricSpecification" in configuration:
            metric: dict[str, Any] = {
                "predefined": configuration["PredefinedMetricSpecification"]["PredefinedMetricType"]}
        else:
            custom = configuration["CustomizedMetricSpecification"]
            metric = {"namespace": custom["Namespace"], "name": custom["MetricName"],
                      "dimensions": tag_dict(custom.get("Dimensions"), "Name", "Value"),
                      "statistic": custom["Statistic"]}
        state = {
            "resource_id": policy["ResourceId"], "target": configuration["TargetValue"], "metric": metric,
            "scale_out_cooldown_s": configuration.get("ScaleOutCooldown", 0),
            "scale_in_cooldown_s": configuration.get("ScaleInCooldown", 0),
        }
        return Current(state, {}, {"arn": policy["PolicyARN"]})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("application-autoscaling").put_scaling_policy(
            PolicyName=resource.name, ServiceNamespace=_NAMESPACE, ResourceId=spec["resource_id"],
            ScalableDimension=_DIMENSION, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=self._configuration(spec))

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        self.create(aws, resource, spec)

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("application-autoscaling").delete_scaling_policy(
            PolicyName=resource.name, ServiceNamespace=_NAMESPACE,
            ResourceId=resource.spec["resource_id"], ScalableDimension=_DIMENSION)
