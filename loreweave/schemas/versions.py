"""Build and protocol versions of game servers and clients: announcements, verdicts, field report."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.common import Id

Component = Literal["server", "client"]


@event("version.announced", key="component_id")
class VersionAnnounced(Event):
    """A game server or client says which build and protocol version it runs."""

    component: Component
    component_id: Id
    build: str = Field(min_length=1, max_length=64, description="The game build, e.g. 1.4.2.")
    protocol: str = Field(min_length=1, max_length=16, description="Loreweave protocol, MAJOR.MINOR.")
    engine: str = Field(default="", max_length=64, description="e.g. 'UE 5.4'.")


@event("version.accepted", key="component_id")
class VersionAccepted(Event):
    """A component's versions are compatible."""

    component: Component
    component_id: str
    build: str
    protocol: str


@event("version.refused", key="component_id")
class VersionRefused(Event):
    """A component's versions are not compatible; ``reason`` says why and ``supported`` what is."""

    component: Component
    component_id: str
    build: str
    protocol: str
    reason: str
    supported: str


@event("version.get_report")
class VersionGetReport(Event):
    """Request: the versions seen in a world."""


@event("version.report")
class VersionReport(Event):
    """Reply to ``version.get_report``: counts of components per build, protocol and engine."""

    builds: dict[str, int] = Field(description="'server 1.4.2' -> components seen.")
    protocols: dict[str, int]
    engines: dict[str, int]
    accepted: int
    refused: int
