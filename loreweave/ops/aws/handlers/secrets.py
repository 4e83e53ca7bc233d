"""Secrets Manager: one NATS credential per role the stack's tasks connect as."""

from __future__ import annotations

import json
import secrets
from typing import Any, Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from loreweave.ops.aws.resources import Clients, Current, Resource, tag_dict, tag_list

ROLE_TAG = "loreweave:nats-role"
SERVER_TAG = "loreweave:nats-server"


def credential_value(role: str, server: str, password: str | None = None) -> dict[str, Any]:
    """A secret's value: the credential file's fields (user, role, worlds, password) and ``url``, the
    server's URL with them in it, which ECS hands a task as ``LOREWEAVE_NATS_URL`` (``<arn>:url::``)."""
    password = password or secrets.token_urlsafe(32)
    login = f"{quote(role, safe='')}:{quote(password, safe='')}@"
    url = ",".join(urlunsplit(parts._replace(netloc=login + parts.netloc))
                   for parts in (urlsplit(one.strip()) for one in server.split(",")))
    return {"user": role, "role": role, "worlds": ["*"], "password": password, "url": url}


class SecretHandler:
    """``secret``: spec ``{"role", "server", "description"}``; the value (a fresh random password)
    is made here on create and never read by plan or apply, only rewritten for a new server URL.
    Deleted at once on destroy (no recovery window: a new apply makes new credentials).
    Outputs ``arn`` and ``url_from`` (``<arn>:url::``, a task definition's ``valueFrom``)."""

    kind = "secret"

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        client = aws("secretsmanager")
        try:
            found = client.describe_secret(SecretId=resource.name)
        except client.exceptions.ResourceNotFoundException:
            return None
        if found.get("DeletedDate"):
            return None
        tags = tag_dict(found.get("Tags"))
        state = {"role": tags.get(ROLE_TAG), "server": tags.get(SERVER_TAG), "description": found.get("Description")}
        arn = found["ARN"]
        return Current(state, tags, {"arn": arn, "url_from": f"{arn}:url::"})

    @staticmethod
    def _tags(resource: Resource, spec: Mapping[str, Any]) -> list[dict[str, str]]:
        return tag_list({**resource.tags, ROLE_TAG: spec["role"], SERVER_TAG: spec["server"]})

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        aws("secretsmanager").create_secret(
            Name=resource.name, Description=spec["description"], Tags=self._tags(resource, spec),
            SecretString=json.dumps(credential_value(spec["role"], spec["server"])))

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        client = aws("secretsmanager")
        if current.state.get("server") != spec["server"] or current.state.get("role") != spec["role"]:
            old = json.loads(client.get_secret_value(SecretId=resource.name)["SecretString"])
            same_user = old.get("user") == spec["role"]
            value = credential_value(spec["role"], spec["server"], old.get("password") if same_user else None)
            client.put_secret_value(SecretId=resource.name, SecretString=json.dumps(value))
        client.update_secret(SecretId=resource.name, Description=spec["description"])
        client.tag_resource(SecretId=resource.name, Tags=self._tags(resource, spec))

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        aws("secretsmanager").delete_secret(SecretId=resource.name, ForceDeleteWithoutRecovery=True)
