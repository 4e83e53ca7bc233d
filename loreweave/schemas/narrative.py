"""The narrative stream designers follow (``lw.<world>.narrative.>``)."""

from __future__ import annotations

from pydantic import Field

from loreweave.schemas.base import Event, event


@event("narrative.beat")
class NarrativeBeat(Event):
    """A story beat: something the storyteller wants the world to notice."""

    text: str = Field(max_length=4000)
    tension: float = Field(default=0.0, ge=0.0, le=1.0)
    tags: list[str] = Field(default_factory=list)
