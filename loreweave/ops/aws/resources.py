"""The provisioning vocabulary: a desired resource, a reference to another's output, a handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

import boto3
from botocore.config import Config

from loreweave.protocol.errors import LoreweaveError


class ProvisionError(LoreweaveError):
    """An AWS call failed while planning, applying or destroying a resource."""


@dataclass(frozen=True)
class Ref:
    """The output ``attribute`` (an ARN...) of another resource, known once it exists."""

    kind: str
    name: str
    attribute: str = "arn"


class Unresolved(Exception):
    """A :class:`Ref` points at a resource that does not exist yet."""


@dataclass(frozen=True)
class Resource:
    """One resource the stack wants: its kind, AWS name, desired attributes and tags."""

    kind: str
    name: str
    spec: Mapping[str, Any]
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        """``(kind, name)``: unique within a stack."""
        return (self.kind, self.name)


@dataclass(frozen=True)
class Current:
    """What exists: attributes in the same shape as :attr:`Resource.spec`, its tags and outputs."""

    state: Mapping[str, Any]
    tags: Mapping[str, str]
    outputs: Mapping[str, Any]


Outputs = dict[tuple[str, str], Mapping[str, Any]]


def resolve(value: Any, outputs: Outputs) -> Any:
    """Replace every :class:`Ref` in ``value`` by its output; raise :class:`Unresolved` if unknown."""
    if isinstance(value, Ref):
        try:
            return outputs[(value.kind, value.name)][value.attribute]
        except KeyError:
            raise Unresolved(f"{value.kind}/{value.name}.{value.attribute}") from None
    if isinstance(value, Mapping):
        return {key: resolve(item, outputs) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve(item, outputs) for item in value]
    return value


class Clients:
    """boto3 clients of one region, made on first use and kept."""

    def __init__(self, region: str, session: boto3.session.Session | None = None) -> None:
        self.region = region
        self._session = session or boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}
        self._account: str | None = None

    def __call__(self, service: str) -> Any:
        """The client of ``service`` (``"ecs"``, ``"autoscaling"``...)."""
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, region_name=self.region, config=Config(retries={"mode": "standard"})
            )
        return self._clients[service]

    @property
    def account(self) -> str:
        """The AWS account id of the credentials."""
        if self._account is None:
            self._account = self("sts").get_caller_identity()["Account"]
        return self._account


class Handler(Protocol):
    """How to read, create, update and delete one kind of resource."""

    kind: str

    def read(self, aws: Clients, resource: Resource) -> Current | None:
        """What exists under the resource's name, or ``None``."""

    def create(self, aws: Clients, resource: Resource, spec: Mapping[str, Any]) -> None:
        """Create it with the resolved ``spec`` and the resource's tags."""

    def update(self, aws: Clients, resource: Resource, spec: Mapping[str, Any], current: Current) -> None:
        """Bring an existing resource to ``spec`` and the resource's tags."""

    def delete(self, aws: Clients, resource: Resource, current: Current) -> None:
        """Delete it."""


def tag_list(tags: Mapping[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    """Tags as AWS's list of pairs (``[{"Key": k, "Value": v}]``; ECS spells them ``key``/``value``)."""
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def tag_dict(pairs: list[Mapping[str, str]] | None, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """AWS's list of tag pairs as a dict."""
    return {pair[key]: pair.get(value, "") for pair in pairs or []}
