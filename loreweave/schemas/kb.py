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


@event("kb.observe")
class MemoryObserved(Event):
    """Something an NPC (or the storyteller) saw, heard or took part in: the lore actor keeps it as a memory."""

    owner: str = Field(min_length=1, max_length=200, description="Whose memory: an NPC id, or 'storyteller'.")
    text: str = Field(min_length=1, max_length=4000, description="The observation, in the owner's words.")
    kind: str = Field(
        default="observation", min_length=1, max_length=40,
        description="met, heard, quest, weather, world or observation: sets the scripted importance.",
    )
    subject: str | None = Field(default=None, max_length=200, description="Whom or what it is about (a player id...).")
    importance: float | None = Field(
        default=None, ge=1, le=10, description="1-10 if the sender knows; else rated by the AI tier or estimated."
    )


@event("kb.memories")
class MemoriesRequest(Event):
    """An owner's memories: the best for ``query`` (not marked as recalled), or the newest without one."""

    owner: str = Field(min_length=1, max_length=200)
    query: str | None = Field(default=None, max_length=2000)
    k: int = Field(default=10, ge=1, le=50)


@event("kb.memories_reply")
class MemoriesReply(Event):
    """Memories, best (or newest) first; with a query each carries its score and components."""

    memories: list[dict[str, Any]] = Field(default_factory=list)


@event("kb.concept")
class ConceptRequest(Event):
    """A concept's history in the frame's world (or global, if the world has none of that name)."""

    name: str = Field(min_length=1, max_length=200)


@event("kb.concept_reply")
class ConceptReply(Event):
    """A concept and its versions, oldest first, each with the story event that made it."""

    history: dict[str, Any] = Field(default_factory=dict)
