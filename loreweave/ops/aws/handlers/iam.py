"""IAM: the instance role (with its instance profile), the task execution role and the task role."""

from __future__ import annotations

import json
from typing import Any, Mapping

from loreweave.ops.aws.resources import Clients, Current, Resource, tag_dict, tag_list


class RoleHandler:
    """``iam_role``: spec ``{"service", "policies", "instance_profile"}`` and optionally ``"inline"``
    (policy name -> document); outputs ``arn``, ``profile_arn``."""

    kind = "iam_role"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        iam = aws("iam")
        try:
            role = iam.get_role(RoleName=resource.name)["Role"]
        except iam.exceptions.NoSuchEntityException:
            return None
        statement = _document(role["AssumeRolePolicyDocument"])
        service = statement["Statement"][0]["Principal"]["Service"]
        policies = sorted(
            p["PolicyArn"]
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=resource.name)
            for p in page["AttachedPolicies"]
        )
        outputs = {"arn": role["Arn"]}
        has_profile = False
        try:
            profile = iam.get_instance_profile(InstanceProfileName=resource.name)["InstanceProfile"]
            has_profile = any(r["RoleName"] == resource.name for r in profile["Roles"])
            outputs["profile_arn"] = profile["Arn"]
        except iam.exceptions.NoSuchEntityException:
            pass
        tags = tag_dict(iam.list_role_tags(RoleName=resource.name).get("Tags"))
        state: dict[str, Any] = {"service": service, "policies": policies, "instance_profile": has_profile}
        inline = {
            name: _document(iam.get_role_policy(RoleName=resource.name, PolicyName=name)["PolicyDocument"])
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=resource.name)
            for name in page["PolicyNames"]
        }
        if inline:
            state["inline"] = inline
        return Current(state, tags, outputs)

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        document = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": spec["service"]}, "Action": "sts:AssumeRole"}]}
        aws("iam").create_role(RoleName=resource.name, AssumeRolePolicyDocument=json.dumps(document),
                               Description="Loreweave, managed by loreweave ops", Tags=tag_list(resource.tags))
        self._converge(aws, resource, spec, {"policies": [], "instance_profile": False})

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        self._converge(aws, resource, spec, current.state)
        aws("iam").tag_role(RoleName=resource.name, Tags=tag_list(resource.tags))

    def _converge(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], state: Mapping[str, Any]) -> None:
        iam = aws("iam")
        attached, has_profile = state["policies"], state["instance_profile"]
        for arn in sorted(set(spec["policies"]) - set(attached)):
            iam.attach_role_policy(RoleName=resource.name, PolicyArn=arn)
        for arn in sorted(set(attached) - set(spec["policies"])):
            iam.detach_role_policy(RoleName=resource.name, PolicyArn=arn)
        wanted, present = spec.get("inline", {}), state.get("inline", {})
        for name, document in sorted(wanted.items()):
            if present.get(name) != document:
                iam.put_role_policy(RoleName=resource.name, PolicyName=name, PolicyDocument=json.dumps(document))
        for name in sorted(set(present) - set(wanted)):
            iam.delete_role_policy(RoleName=resource.name, PolicyName=name)
        if spec["instance_profile"] and not has_profile:
            try:
                iam.create_instance_profile(InstanceProfileName=resource.name, Tags=tag_list(resource.tags))
            except iam.exceptions.EntityAlreadyExistsException:
                pass
            iam.add_role_to_instance_profile(InstanceProfileName=resource.name, RoleName=resource.name)

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        iam = aws("iam")
        for arn in current.state["policies"]:
            iam.detach_role_policy(RoleName=resource.name, PolicyArn=arn)
        for name in current.state.get("inline", {}):
            iam.delete_role_policy(RoleName=resource.name, PolicyName=name)
        if "profile_arn" in current.outputs:
            if current.state["instance_profile"]:
                iam.remove_role_from_instance_profile(InstanceProfileName=resource.name, RoleName=resource.name)
            iam.delete_instance_profile(InstanceProfileName=resource.name)
        iam.delete_role(RoleName=resource.name)


def _document(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """A policy document as a mapping (IAM may return it as JSON text)."""
    return json.loads(document) if isinstance(document, str) else dict(document)
