"""Requests to the knowledge base (``lw.rpc.<world>.kb.*``) and their replies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from loreweave.schemas.base import Event, event


@event("kb.search")
class LoreSearch(Event):
    """Search the lore of the frame's world (and global lore)."""

    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=5, ge=1, le=50)
    method: Literal["hybrid", "vector", "text"] = "hybrid"


@event("kb.hits")
class LoreHits(Event):
    """Chunks that answer a search, best first, with their sources and scores."""

    hits: list[dict[str, Any]] = Field(default_factory=list)


@event("kb.context")
class LoreContextRequest(Event):
    """Lore, memories and recent events to build a prompt for an NPC or the storyteller."""

    query: str = Field(min_length=1, max_length=2000)
    owner: str | None = Field(default=None, description="Whose memories: an NPC id, or none for the storyteller.")
    lore_k: int = Field(default=3, ge=0, le=20)
    memory_k: int = Field(default=3, ge=0, le=20)
    events_k: int = Field(default=3, ge=0, le=20)


@event("kb.context_reply")
class LoreContext(Event):
    """The prompt context: lore snippets, memories and story events."""

    context: dict[str, Any] = Field(default_factory=dict)
