"""Localisation events: speech and narrative in a player's locale, glossary, and translation requests."""

from __future__ import annotations

from pydantic import Field

from loreweave.schemas.base import Event, event


@event("language.localized")
class LanguageLocalized(Event):
    """A line of NPC speech or narrative, in one locale."""

    locale: str = Field(min_length=2, max_length=16)
    text: str = Field(max_length=8000)
    source_type: str = Field(description="The event type translated, e.g. npc.said.")
    source_id: str = Field(description="The frame id of the original.")
    player_id: str | None = Field(default=None, description="Set when written for one player.")
    coverage: float = Field(default=1.0, ge=0, le=1, description="Share of words the phrasebook knew.")


@event("language.glossary_added")
class LanguageGlossaryAdded(Event):
    """Lore terms that must never be translated (names of places, people, factions)."""

    terms: list[str] = Field(min_length=1, max_length=1000)


@event("language.translate")
class LanguageTranslate(Event):
    """Request: translate a text into a locale."""

    text: str = Field(max_length=8000)
    locale: str = Field(min_length=2, max_length=16)


@event("language.translation")
class LanguageTranslation(Event):
    """Reply to ``language.translate``."""

    text: str
    locale: str
    coverage: float
    protected: list[str] = Field(default_factory=list, description="Glossary terms kept as they were.")
