"""World-state events: a world's map opening, facts changing, and snapshot and query requests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.common import FlagValue, Id


class RegionSpec(BaseModel):
    """One region of a world's map, as a game server declares it."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(default="", max_length=128)
    biome: str = Field(default="plains", max_length=32)
    neighbours: list[str] = Field(default_factory=list)
    faction: str | None = Field(default=None, max_length=64)


@event("world.opened")
class WorldOpened(Event):
    """A game server opened a world: its regions and factions; clocks start on it."""

    title: str = Field(default="", max_length=128)
    regions: list[RegionSpec] = Field(min_length=1)
    factions: list[str] = Field(default_factory=list)
    clock_speed: float | None = Field(
        default=None, gt=0, le=100_000, description="Game minutes per real second (the clock's default if unset)."
    )
    start_hour: int = Field(default=8, ge=0, le=23)


@event("world.closed")
class WorldClosed(Event):
    """A game server closed a world; actors drop its state."""

    reason: str = Field(default="shutdown", max_length=128)


@event("world.flag_set", key="flag")
class WorldFlagSet(Event):
    """A world flag (a designer's fact: ``bridge_repaired``) took a value."""

    flag: Id
    value: FlagValue
    by: str = Field(default="", max_length=64)


@event("world.region_claimed", key="region")
class WorldRegionClaimed(Event):
    """A faction took control of a region."""

    region: Id
    faction: Id


class RegionFacts(BaseModel):
    """What the world knows about a region."""

    name: str = ""
    biome: str = "plains"
    neighbours: list[str] = Field(default_factory=list)
    faction: str | None = None
    weather: str = "clear"


class WorldFacts(BaseModel):
    """The authoritative facts of one world, built from events."""

    title: str = ""
    regions: dict[str, RegionFacts] = Field(default_factory=dict)
    factions: list[str] = Field(default_factory=list)
    npcs: dict[str, str] = Field(default_factory=dict, description="NPC id -> region.")
    players: dict[str, str] = Field(default_factory=dict, description="Online player id -> region.")
    flags: dict[str, FlagValue] = Field(default_factory=dict)
    day: int = 0
    season: str = "spring"
    daylight: bool = True
    events_applied: int = 0


@event("world.get_snapshot")
class WorldGetSnapshot(Event):
    """Request: every fact of a world."""


@event("world.snapshot")
class WorldSnapshot(Event):
    """Reply to ``world.get_snapshot``."""

    facts: WorldFacts


QueryKind = Literal["region", "npc", "player", "flag", "faction", "occupants"]


@event("world.query")
class WorldQuery(Event):
    """Request: one fact (a region, where an NPC or player is, a flag, a faction's regions, who is in a region)."""

    kind: QueryKind
    id: Id


@event("world.answer")
class WorldAnswer(Event):
    """Reply to ``world.query``; ``found`` is false for an unknown id."""

    kind: QueryKind
    id: str
    found: bool
    value: Any = None
