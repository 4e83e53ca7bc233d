"""Per-world settings: the validated model, versioned changes, and their broadcast."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loreweave.schemas.base import Event, event

ContentRating = Literal["everyone", "teen", "mature"]


class WorldSettings(BaseModel):
    """What a world's operators can change while it runs."""

    model_config = ConfigDict(extra="forbid")

    content_rating: ContentRating = "teen"
    ai_tiers: list[str] = Field(
        default_factory=lambda: ["large", "small", "scripted"],
        min_length=1,
        description="AI tiers in order of preference.",
    )
    clock_speed: float | None = Field(
        default=None, gt=0, le=100_000, description="Game minutes per real second (unset: the clock's default)."
    )
    npc_chatter: float = Field(default=0.3, ge=0, le=1, description="How readily NPCs greet passers-by.")
    storyteller_intensity: float = Field(default=0.5, ge=0, le=1, description="How hard the story pushes.")
    default_locale: str = Field(default="en", min_length=2, max_length=16)


class SettingsRevision(BaseModel):
    """One accepted change."""

    version: int
    changes: dict[str, Any]
    by: str
    ts: int = Field(description="Microseconds since the Unix epoch.")


@event("settings.get")
class SettingsGet(Event):
    """Request: a world's settings (and, optionally, their history)."""

    include_history: bool = False


@event("settings.update")
class SettingsUpdate(Event):
    """Request: change some settings; refused whole if any value is invalid."""

    changes: dict[str, Any] = Field(min_length=1)
    expected_version: int | None = Field(
        default=None, ge=0, description="Refuse the change if the settings moved past this version."
    )
    by: str = Field(default="unknown", max_length=64)


@event("settings.current")
class SettingsCurrent(Event):
    """Reply to ``settings.get`` and ``settings.update``."""

    version: int
    settings: WorldSettings
    history: list[SettingsRevision] = Field(default_factory=list)


@event("settings.changed")
class SettingsChanged(Event):
    """A world's settings changed: what changed and the whole new settings."""

    version: int
    changes: dict[str, Any]
    settings: WorldSettings
    by: str = ""
