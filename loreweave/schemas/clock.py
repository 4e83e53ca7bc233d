"""Game-time events: ticks, dawn and dusk, new days and seasons, and the time request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loreweave.schemas.base import Event, event

Season = Literal["spring", "summer", "autumn", "winter"]
#: The seasons in calendar order.
SEASONS: tuple[Season, ...] = ("spring", "summer", "autumn", "winter")


@event("clock.tick", version="1.1")
class ClockTick(Event):
    """Game time advanced; sent on every tick of a world's clock."""

    tick: int = Field(ge=0)
    game_minutes: int = Field(ge=0, description="Minutes of game time since the world began.")
    day: int = Field(default=0, ge=0, description="Whole game days since the world began.")
    hour: int = Field(default=0, ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)
    season: Season = "spring"
    daylight: bool = True


class _ClockMark(Event):
    day: int = Field(ge=0)
    season: Season
    game_minutes: int = Field(ge=0)


@event("clock.dawn")
class ClockDawn(_ClockMark):
    """The sun rose in a world (the hour depends on the season)."""


@event("clock.dusk")
class ClockDusk(_ClockMark):
    """The sun set in a world."""


@event("clock.day")
class ClockDay(_ClockMark):
    """A new game day began (at midnight)."""


@event("clock.season")
class ClockSeason(_ClockMark):
    """The season changed."""

    previous: Season


@event("clock.get_time")
class ClockGetTime(Event):
    """Request: the current game time of a world."""


@event("clock.time")
class ClockTime(Event):
    """Reply to ``clock.get_time``."""

    tick: int = Field(ge=0)
    game_minutes: int = Field(ge=0)
    day: int = Field(ge=0)
    hour: int = Field(ge=0, le=23)
    minute: int = Field(ge=0, le=59)
    season: Season
    daylight: bool
    speed: float = Field(description="Game minutes per real second.")
