"""EC2 and Auto Scaling: the GPU launch template and Auto Scaling Group of each tier."""

from __future__ import annotations

import base64
from typing import Any, Mapping

from botocore.exceptions import ClientError

from loreweave.ops.aws.resources import Clients, Current, Resource, tag_dict, tag_list


def _missing(exc: ClientError) -> bool:
    return "NotFound" in exc.response["Error"]["Code"]


class LaunchTemplateHandler:
    """``launch_template``: spec ``{"image_id", "instance_type", "profile_arn", "user_data",
    "volume_gib", "security_groups"}``; outputs ``id``."""

    kind = "launch_template"

    @staticmethod
    def _data(spec: Mapping[str, Any], tags: Mapping[str, str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ImageId": spec["image_id"],
            "InstanceType": spec["instance_type"],
            "IamInstanceProfile": {"Arn": spec["profile_arn"]},
            "UserData": base64.b64encode(spec["user_data"].encode()).decode(),
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
                "VolumeSize": spec["volume_gib"], "VolumeType": "gp3", "DeleteOnTermination": True}}],
            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2},
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tag_list(tags)},
                                  {"ResourceType": "volume", "Tags": tag_list(tags)}],
        }
        if spec["security_groups"]:
            data["SecurityGroupIds"] = list(spec["security_groups"])
        return data

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        ec2 = aws("ec2")
        try:
            template = ec2.describe_launch_templates(LaunchTemplateNames=[resource.name])["LaunchTemplates"][0]
            version = ec2.describe_launch_template_versions(
                LaunchTemplateName=resource.name, Versions=["$Latest"])["LaunchTemplateVersions"][0]
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        data = version["LaunchTemplateData"]
        state = {
            "image_id": data.get("ImageId"),
            "instance_type": data.get("InstanceType"),
            "profile_arn": data.get("IamInstanceProfile", {}).get("Arn"),
            "user_data": base64.b64decode(data.get("UserData", "")).decode(),
            "volume_gib": (data.get("BlockDeviceMappings") or [{}])[0].get("Ebs", {}).get("VolumeSize"),
            "security_groups": list(data.get("SecurityGroupIds", [])),
        }
        outputs = {"id": template["LaunchTemplateId"], "version": version["VersionNumber"]}
        return Current(state, tag_dict(template.get("Tags")), outputs)

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("ec2").create_launch_template(
            LaunchTemplateName=resource.name,
            LaunchTemplateData=self._data(spec, resource.tags),
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag_list(resource.tags)}],
        )

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        ec2 = aws("ec2")
        if dict(spec) != dict(current.state):
            version = ec2.create_launch_template_version(
                LaunchTemplateName=resource.name, LaunchTemplateData=self._data(spec, resource.tags),
            )["LaunchTemplateVersion"]["VersionNumber"]
            ec2.modify_launch_template(LaunchTemplateName=resource.name, DefaultVersion=str(version))
        ec2.create_tags(Resources=[current.outputs["id"]], Tags=tag_list(resource.tags))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("ec2").delete_launch_template(LaunchTemplateName=resource.name)


class AutoScalingGroupHandler:
    """``asg``: spec ``{"launch_template", "instance_types", "min", "max", "on_demand_base",
    "spot_pct_above_base", "subnets"}``; outputs ``arn``, ``desired``."""

    kind = "asg"

    @staticmethod
    def _params(spec: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "MixedInstancesPolicy": {
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {
                        "LaunchTemplateName": spec["launch_template"], "Version": "$Latest"},
                    "Overrides": [{"InstanceType": t} for t in spec["instance_types"]],
                },
                "InstancesDistribution": {
                    "OnDemandBaseCapacity": spec["on_demand_base"],
                    "OnDemandPercentageAboveBaseCapacity": 100 - spec["spot_pct_above_base"],
                    "SpotAllocationStrategy": "price-capacity-optimized",
                },
            },
            "MinSize": spec["min"],
            "MaxSize": spec["max"],
            "VPCZoneIdentifier": ",".join(spec["subnets"]),
            # ECS managed termination protection needs scale-in protection on new instances.
            "NewInstancesProtectedFromScaleIn": True,
            "CapacityRebalance": True,
        }

    @staticmethod
    def _tags(resource: Resource) -> list[dict[str, Any]]:
        return [{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": resource.name,
                 "ResourceType": "auto-scaling-group"} for k, v in sorted(resource.tags.items())]

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        groups = aws("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[resource.name])["AutoScalingGroups"]
        if not groups or groups[0].get("Status"):  # "Delete in progress"
            return None
        group = groups[0]
        policy = group.get("MixedInstancesPolicy", {})
        template = policy.get("LaunchTemplate", {})
        distribution = policy.get("InstancesDistribution", {})
        state = {
            "launch_template": template.get("LaunchTemplateSpecification", {}).get("LaunchTemplateName"),
            "instance_types": [o["InstanceType"] for o in template.get("Overrides", [])],
            "min": group["MinSize"],
            "max": group["MaxSize"],
            "on_demand_base": distribution.get("OnDemandBaseCapacity", 0),
            "spot_pct_above_base": 100 - distribution.get("OnDemandPercentageAboveBaseCapacity", 100),
            "subnets": sorted(s for s in group.get("VPCZoneIdentifier", "").split(",") if s),
        }
        outputs = {"arn": group["AutoScalingGroupARN"], "desired": group["DesiredCapacity"],
                   "instances": len(group.get("Instances", []))}
        return Current(state, tag_dict(group.get("Tags")), outputs)

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("autoscaling").create_auto_scaling_group(
            AutoScalingGroupName=resource.name, Tags=self._tags(resource), **self._params(spec))

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        autoscaling = aws("autoscaling")
        autoscaling.update_auto_scaling_group(AutoScalingGroupName=resource.name, **self._params(spec))
        autoscaling.create_or_update_tags(Tags=self._tags(resource))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        autoscaling = aws("autoscaling")
        group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[resource.name])["AutoScalingGroups"]
        instances = [i["InstanceId"] for g in group for i in g.get("Instances", [])]
        if instances:
            # Scale-in protection (for ECS managed termination) would keep them through the delete.
            autoscaling.set_instance_protection(
                AutoScalingGroupName=resource.name, InstanceIds=instances, ProtectedFromScaleIn=False)
        autoscaling.delete_auto_scaling_group(AutoScalingGroupName=resource.name, ForceDelete=True)
