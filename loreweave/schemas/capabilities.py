"""The capability registry: model heartbeats, registrations, losses and the registry query.

Actor heartbeats are :class:`loreweave.schemas.system.ActorHeartbeat` (``actor.heartbeat``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.common import Id

EntryKind = Literal["actor", "model"]


@event("model.heartbeat", key="model")
class ModelHeartbeat(Event):
    """A model tier is serving: its health, latency and queue."""

    model: Id
    tier: Id
    instance: str = Field(default="", max_length=128)
    healthy: bool = True
    latency_ms: float | None = Field(default=None, ge=0)
    queue_depth: int = Field(default=0, ge=0)


class ActorEntry(BaseModel):
    """An actor instance the registry has heard from."""

    actor: str
    instance: str
    subjects: list[str] = Field(default_factory=list)
    handled: int = 0
    failed: int = 0
    last_seen_us: int = 0
    alive: bool = True


class ModelEntry(BaseModel):
    """A model tier instance the registry has heard from."""

    model: str
    tier: str
    instance: str
    healthy: bool = True
    latency_ms: float | None = None
    queue_depth: int = 0
    last_seen_us: int = 0
    alive: bool = True


@event("registry.query")
class RegistryQuery(Event):
    """Request: the actors and models known, optionally only those that handle ``subject``."""

    kind: Literal["all", "actors", "models"] = "all"
    subject: str | None = Field(default=None, max_length=256)
    tier: str | None = Field(default=None, max_length=64)
    alive_only: bool = False


@event("registry.snapshot")
class RegistrySnapshot(Event):
    """Reply to ``registry.query``."""

    actors: list[ActorEntry] = Field(default_factory=list)
    models: list[ModelEntry] = Field(default_factory=list)


@event("registry.registered", key="name")
class RegistryRegistered(Event):
    """An actor or model instance was heard from for the first time (or again after being lost)."""

    kind: EntryKind
    name: str
    instance: str


@event("registry.lost", key="name")
class RegistryLost(Event):
    """An actor or model instance stopped sending heartbeats."""

    kind: EntryKind
    name: str
    instance: str
    silent_s: float
