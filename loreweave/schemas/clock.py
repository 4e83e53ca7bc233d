"""Game-time events."""

from __future__ import annotations

from pydantic import Field

from loreweave.schemas.base import Event, event


@event("clock.tick")
class ClockTick(Event):
    """Game time advanced; sent on every tick of a world's clock."""

    tick: int = Field(ge=0)
    game_minutes: int = Field(ge=0, description="Minutes of game time since the world began.")
