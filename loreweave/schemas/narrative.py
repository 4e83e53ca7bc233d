"""The narrative stream designers follow (``lw.<world>.narrative.>``)."""

from __future__ import annotations

from pydantic import Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.common import Id


@event("narrative.beat", version="1.1")
class NarrativeBeat(Event):
    """A story beat: something the storyteller wants the world to notice."""

    text: str = Field(max_length=4000)
    tension: float = Field(default=0.0, ge=0.0, le=1.0)
    tags: list[str] = Field(default_factory=list)
    kind: str = Field(default="beat", max_length=32, description="arrival, quest, conflict, weather, chapter...")
    region: str | None = Field(default=None, max_length=64)


@event("narrative.hook", key="quest_id")
class NarrativeHook(Event):
    """The storyteller points players at a quest."""

    quest_id: Id
    title: str = Field(default="", max_length=200)
    text: str = Field(max_length=4000)
    region: str | None = Field(default=None, max_length=64)
    tension: float = Field(default=0.0, ge=0.0, le=1.0)


@event("narrative.ambience", key="region")
class NarrativeAmbience(Event):
    """A short description of a place as it is now (weather, time of day)."""

    region: Id
    text: str = Field(max_length=1000)
    player_id: str | None = Field(default=None, max_length=64, description="Set when written for one player.")
    trigger: str = Field(default="", max_length=32, description="weather, dawn, dusk, arrival.")
