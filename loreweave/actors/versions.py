"""Versions (ue-version-monitor): which builds and protocol versions run in the field.

A component is accepted when its protocol has this runtime's major version and at least
its minimum minor, and its build is at least the minimum build of its kind; otherwise it
gets a ``version.refused`` saying why and what is supported.

Consumes: ``version.announced``, ``clock.day`` (a daily field report), ``world.closed``.
Answers ``version.get_report``. Emits: ``version.accepted``, ``version.refused``, ``version.report``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import ConfigError
from loreweave.schemas import (
    ClockDay,
    VersionAccepted,
    VersionAnnounced,
    VersionGetReport,
    VersionRefused,
    VersionReport,
    WorldClosed,
)

#: The Loreweave protocol this runtime speaks.
PROTOCOL = "1.0"
_PROTOCOL = re.compile(r"^(\d{1,4})\.(\d{1,4})$")
_BUILD = re.compile(r"^(\d{1,6})(?:\.(\d{1,6}))?(?:\.(\d{1,6}))?")


def parse_build(build: str) -> tuple[int, int, int] | None:
    """``1.4.2`` (or ``1.4``, ``1.4.2-rc1``) as a comparable tuple; ``None`` if it has no number."""
    match = _BUILD.match(build.strip().lstrip("vV"))
    if match is None:
        return None
    return tuple(int(part or 0) for part in match.groups())  # type: ignore[return-value]


class Seen(BaseModel):
    """A component as last announced."""

    component: str
    build: str
    protocol: str
    engine: str = ""
    accepted: bool


class VersionsWorld(BaseModel):
    """Components seen in one world."""

    components: dict[str, Seen] = Field(default_factory=dict)


class VersionsState(BaseModel):
    """Every world's components."""

    worlds: dict[str, VersionsWorld] = Field(default_factory=dict)


class Versions(GameActor[VersionsState]):
    """Checks announced versions and reports what is seen.

    Args:
        protocol: the protocol this deployment speaks (``MAJOR.MINOR``).
        min_protocol: the oldest protocol accepted (same major).
        min_builds: oldest build accepted per component kind (``server``, ``client``).
    """

    name = "versions"

    def __init__(
        self,
        *,
        seed: int = 0,
        protocol: str = PROTOCOL,
        min_protocol: str = "1.0",
        min_builds: Mapping[str, str] | None = None,
        heartbeat_s: float = 5.0,
    ) -> None:
        super().__init__(VersionsState(), seed=seed, heartbeat_s=heartbeat_s)
        current, oldest = _PROTOCOL.match(protocol), _PROTOCOL.match(min_protocol)
        if current is None or oldest is None or current.group(1) != oldest.group(1):
            raise ConfigError("versions.min_protocol", f"{min_protocol!r} must be MAJOR.MINOR with {protocol}'s major")
        self.major, self.min_minor = int(current.group(1)), int(oldest.group(2))
        self.min_builds = dict(min_builds or {"server": "1.0.0", "client": "1.0.0"})
        for kind, build in self.min_builds.items():
            if parse_build(build) is None:
                raise ConfigError(f"versions.min_builds.{kind}", f"{build!r} is not a build number")

    @property
    def supported(self) -> str:
        """What this deployment accepts, in words."""
        builds = ", ".join(f"{kind} >= {build}" for kind, build in sorted(self.min_builds.items()))
        return f"protocol {self.major}.x >= {self.major}.{self.min_minor}; {builds}"

    def verdict(self, event: VersionAnnounced) -> str | None:
        """Why a component is refused, or ``None`` if it is compatible."""
        protocol = _PROTOCOL.match(event.protocol)
        if protocol is None:
            return f"protocol {event.protocol!r} is not MAJOR.MINOR"
        major, minor = int(protocol.group(1)), int(protocol.group(2))
        if major != self.major:
            return f"protocol {event.protocol} is incompatible: this world speaks {self.major}.x"
        if minor < self.min_minor:
            return f"protocol {event.protocol} is too old: {self.major}.{self.min_minor} or newer is needed"
        build = parse_build(event.build)
        if build is None:
            return f"build {event.build!r} has no version number"
        oldest = self.min_builds.get(event.component)
        if oldest is not None and build < parse_build(oldest):  # type: ignore[operator]
            return f"{event.component} build {event.build} is older than the oldest supported, {oldest}"
        return None

    @on("lw.*.version.announced")
    async def announced(self, event: VersionAnnounced, ctx: Context) -> None:
        """Accept or refuse a component, and remember what it runs."""
        reason = self.verdict(event)
        world = self.state.worlds.setdefault(ctx.frame.world, VersionsWorld())
        world.components[event.component_id] = Seen(
            component=event.component, build=event.build, protocol=event.protocol, engine=event.engine,
            accepted=reason is None,
        )
        if reason is None:
            await ctx.emit(VersionAccepted(
                component=event.component, component_id=event.component_id, build=event.build,
                protocol=event.protocol))
        else:
            await ctx.emit(VersionRefused(
                component=event.component, component_id=event.component_id, build=event.build,
                protocol=event.protocol, reason=reason, supported=self.supported))

    def report(self, world: str) -> VersionReport:
        """Counts of the components seen in ``world`` by build, protocol and engine."""
        components = self.state.worlds.get(world, VersionsWorld()).components.values()
        builds: dict[str, int] = {}
        protocols: dict[str, int] = {}
        engines: dict[str, int] = {}
        for seen in components:
            builds[f"{seen.component} {seen.build}"] = builds.get(f"{seen.component} {seen.build}", 0) + 1
            protocols[seen.protocol] = protocols.get(seen.protocol, 0) + 1
            if seen.engine:
                engines[seen.engine] = engines.get(seen.engine, 0) + 1
        accepted = sum(seen.accepted for seen in components)
        return VersionReport(
            builds=dict(sorted(builds.items())), protocols=dict(sorted(protocols.items())),
            engines=dict(sorted(engines.items())), accepted=accepted, refused=len(components) - accepted,
        )

    @reply("lw.rpc.*.version.get_report")
    async def get_report(self, event: VersionGetReport, ctx: Context) -> VersionReport:
        """What runs in the world."""
        return self.report(ctx.frame.world)

    @on("lw.*.clock.day")
    async def day(self, event: ClockDay, ctx: Context) -> None:
        """Publish the field report once a game day."""
        if ctx.frame.world in self.state.worlds:
            await ctx.emit(self.report(ctx.frame.world))

    @on("lw.*.world.closed")
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)
