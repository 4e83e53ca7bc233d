"""EC2 security groups: the tasks' own group and the backing servers' group that admits only it."""

from __future__ import annotations

import time
from typing import Any, Mapping

from botocore.exceptions import ClientError

from loreweave.ops.aws.resources import Clients, Current, Resource, tag_dict, tag_list


def _rule(port: int, group_id: str) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": [{"GroupId": group_id}]}


class SecurityGroupHandler:
    """``security_group``: spec ``{"vpc", "description", "ingress"}`` where ``ingress`` lists
    ``{"port", "from_group"}`` (TCP, from that group id only; never a CIDR). The default egress
    (anywhere) is kept: tasks pull images and reach AWS APIs. Outputs ``id``, ``arn``."""

    kind = "security_group"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        ec2 = aws("ec2")
        groups = ec2.describe_security_groups(Filters=[
            {"Name": "group-name", "Values": [resource.name]},
            {"Name": "vpc-id", "Values": [resource.spec["vpc"]]},
        ])["SecurityGroups"]
        if not groups:
            return None
        group = groups[0]
        ingress = []
        for permission in group.get("IpPermissions", []):
            sources = [pair["GroupId"] for pair in permission.get("UserIdGroupPairs", [])]
            # Any CIDR, prefix list or other protocol is drift: it shows as an entry the spec lacks.
            others = permission.get("IpRanges", []) + permission.get("Ipv6Ranges", []) + permission.get(
                "PrefixListIds", [])
            for source in sources + [str(other) for other in others]:
                rule = {"port": permission.get("FromPort"), "from_group": source}
                if permission.get("IpProtocol") != "tcp" or permission.get("ToPort") != permission.get("FromPort"):
                    rule.update(protocol=permission.get("IpProtocol"), to_port=permission.get("ToPort"))
                ingress.append(rule)
        state = {"vpc": group["VpcId"], "description": group.get("Description", ""),
                 "ingress": sorted(ingress, key=lambda rule: (str(rule["port"]), rule["from_group"]))}
        arn = f"arn:aws:ec2:{aws.region}:{group.get('OwnerId') or aws.account}:security-group/{group['GroupId']}"
        return Current(state, tag_dict(group.get("Tags")), {"id": group["GroupId"], "arn": arn})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        ec2 = aws("ec2")
        group_id = ec2.create_security_group(
            GroupName=resource.name, Description=spec["description"], VpcId=spec["vpc"],
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tag_list(resource.tags)}])["GroupId"]
        if spec["ingress"]:
            ec2.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=[_rule(r["port"], r["from_group"]) for r in spec["ingress"]])

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        ec2 = aws("ec2")
        group_id = current.outputs["id"]
        group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
        wanted = {(r["port"], r["from_group"]) for r in spec["ingress"]}
        unwanted = []
        for permission in group.get("IpPermissions", []):
            pairs = permission.get("UserIdGroupPairs", [])
            exact = (permission.get("IpProtocol") == "tcp" and permission.get("FromPort") == permission.get("ToPort")
                     and not permission.get("IpRanges") and not permission.get("Ipv6Ranges")
                     and not permission.get("PrefixListIds"))
            if not exact or any((permission.get("FromPort"), p["GroupId"]) not in wanted for p in pairs):
                unwanted.append(permission)
        present = {(p.get("FromPort"), pair["GroupId"]) for p in group.get("IpPermissions", []) if p not in unwanted
                   for pair in p.get("UserIdGroupPairs", [])}
        if unwanted:
            ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=unwanted)
        missing = sorted(wanted - present, key=str)
        if missing:
            ec2.authorize_security_group_ingress(
                GroupId=group_id, IpPermissions=[_rule(port, source) for port, source in missing])
        ec2.create_tags(Resources=[group_id], Tags=tag_list(resource.tags))

    def delete(self, aws: Clients, resource: Resource, current: Current, *, attempts: int = 20) -> None:
        ec2 = aws("ec2")
        for attempt in range(attempts):
            try:
                ec2.delete_security_group(GroupId=current.outputs["id"])
                return
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code == "InvalidGroup.NotFound":
                    return
                # A deleted service's task network interfaces let go of the group a minute or two later.
                if code != "DependencyViolation" or attempt == attempts - 1:
                    raise
                time.sleep(15)
