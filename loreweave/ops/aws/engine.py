"""Plan, apply and destroy a stack: compare what exists with what the spec wants, then converge."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

from botocore.exceptions import BotoCoreError, ClientError

from loreweave.ops.aws.desired import desired_resources
from loreweave.ops.aws.handlers import HANDLERS
from loreweave.ops.aws.resources import Clients, Current, Outputs, ProvisionError, Resource, Unresolved, resolve
from loreweave.ops.aws.stack import StackSpec

logger = logging.getLogger(__name__)
Action = Literal["create", "update", "delete", "unchanged"]


@dataclass(frozen=True)
class Change:
    """What apply or destroy does (or did) to one resource, and which fields differ."""

    action: Action
    resource: Resource
    fields: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``kind/name``."""
        return f"{self.resource.kind}/{self.resource.name}"


@dataclass
class Plan:
    """The changes of a plan, in the order they run."""

    changes: list[Change] = field(default_factory=list)

    def count(self, action: Action) -> int:
        """How many changes have ``action``."""
        return sum(1 for change in self.changes if change.action == action)

    @property
    def empty(self) -> bool:
        """True if nothing would change."""
        return all(change.action == "unchanged" for change in self.changes)

    def summary(self) -> str:
        """``2 to create, 1 to update, 0 to delete, 30 unchanged``."""
        return (f"{self.count('create')} to create, {self.count('update')} to update, "
                f"{self.count('delete')} to delete, {self.count('unchanged')} unchanged")


def differing(spec: Mapping[str, Any], current: Current, tags: Mapping[str, str]) -> tuple[str, ...]:
    """Fields of ``spec`` that differ from what exists, and ``tags`` if a wanted tag is missing.

    Tags that others add (``AmazonECSManaged``, ``aws:*``) are left alone.
    """
    fields = [key for key, value in spec.items() if _normal(value, key) != _normal(current.state.get(key), key)]
    if any(current.tags.get(key) != value for key, value in tags.items()):
        fields.append("tags")
    return tuple(fields)


#: Lists whose order AWS does not keep: compared as sets.
_UNORDERED = frozenset({"security_groups", "subnets"})


def _normal(value: Any, key: str = "") -> Any:
    if isinstance(value, Mapping):
        return {name: _normal(item, name) for name, item in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_normal(item) for item in value]
        return sorted(items, key=repr) if key in _UNORDERED else items
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return value


def _call(what: str, function: Callable[[], Any]) -> Any:
    try:
        return function()
    except (ClientError, BotoCoreError) as exc:
        raise ProvisionError(what, str(exc)) from None


def _read(aws: Clients, resource: Resource) -> Current | None:
    handler = HANDLERS[resource.kind]
    return _call(f"{resource.kind}/{resource.name}", lambda: handler.read(aws, resource))


def plan(spec: StackSpec, aws: Clients) -> Plan:
    """What :func:`apply` would do, without changing anything."""
    outputs: Outputs = {}
    result = Plan()
    for resource in _call("network", lambda: desired_resources(spec, aws)):
        current = _read(aws, resource)
        if current is None:
            result.changes.append(Change("create", resource, tuple(resource.spec)))
            continue
        outputs[resource.key] = current.outputs
        try:
            wanted = resolve(resource.spec, outputs)
        except Unresolved:
            result.changes.append(Change("update", resource, ("references",)))
            continue
        fields = differing(wanted, current, resource.tags)
        result.changes.append(Change("update" if fields else "unchanged", resource, fields))
    return result


def apply(spec: StackSpec, aws: Clients, on_change: Callable[[Change], None] | None = None) -> Plan:
    """Create or update every resource that differs from the spec; a second run changes nothing.

    Raises:
        ProvisionError: naming the resource whose AWS call failed, and AWS's message.
    """
    outputs: Outputs = {}
    done = Plan()
    for resource in _call("network", lambda: desired_resources(spec, aws)):
        handler = HANDLERS[resource.kind]
        what = f"{resource.kind}/{resource.name}"
        current = _read(aws, resource)
        if current is not None:
            outputs[resource.key] = current.outputs
        try:
            wanted = resolve(resource.spec, outputs)
        except Unresolved as exc:
            raise ProvisionError(what, f"needs {exc} which does not exist") from None
        if current is None:
            change = Change("create", resource, tuple(resource.spec))
            _call(what, lambda: handler.create(aws, resource, wanted))
        else:
            fields = differing(wanted, current, resource.tags)
            change = Change("update" if fields else "unchanged", resource, fields)
            if fields:
                _call(what, lambda: handler.update(aws, resource, wanted, current))
        if change.action != "unchanged":
            logger.info("%s %s %s", change.action, what, ", ".join(change.fields))
            after = _read(aws, resource)
            if after is None:
                raise ProvisionError(what, f"was {change.action}d but cannot be read back")
            outputs[resource.key] = after.outputs
        done.changes.append(change)
        if on_change is not None:
            on_change(change)
    return done


def destroy(spec: StackSpec, aws: Clients, on_change: Callable[[Change], None] | None = None) -> Plan:
    """Delete every resource of the stack that exists, dependents first.

    Raises:
        ProvisionError: naming the resource whose AWS call failed, and AWS's message.
    """
    done = Plan()
    for resource in reversed(_call("network", lambda: desired_resources(spec, aws))):
        current = _read(aws, resource)
        if current is None:
            change = Change("unchanged", resource)
        else:
            handler = HANDLERS[resource.kind]
            _call(f"{resource.kind}/{resource.name}", lambda: handler.delete(aws, resource, current))
            change = Change("delete", resource)
            logger.info("deleted %s/%s", resource.kind, resource.name)
        done.changes.append(change)
        if on_change is not None:
            on_change(change)
    return done
