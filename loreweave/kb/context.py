"""What the storyteller and NPC actors put in their prompts: current facts, lore snippets and memories.

Lore files describe the world as it was written; story events change it afterwards. So the
context leads with the current version of every concept that the query or the lore found names
(a deposed ruler is no longer "High Jarl"), and says that these facts win over older lore.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from loreweave.kb.concepts import CurrentConcept, StoryEvent, mentioned_concepts
from loreweave.kb.events import recent_events
from loreweave.kb.memory import RecalledMemory, recall
from loreweave.kb.search import SearchHit, check_query, search
from loreweave.kb.store import KnowledgeBase
from loreweave.kb.worlds import require_world


@dataclass(frozen=True, slots=True)
class PromptContext:
    """Lore, memories and recent events relevant to one prompt."""

    world: str
    query: str
    lore: list[SearchHit]
    memories: list[RecalledMemory] = field(default_factory=list)
    events: list[StoryEvent] = field(default_factory=list)
    concepts: list[CurrentConcept] = field(default_factory=list)

    def render(self, *, max_snippet_chars: int = 600) -> str:
        """Plain text to paste into a prompt: current facts first, each lore snippet with its source."""
        parts: list[str] = []
        if self.concepts:
            parts.append("Current facts (these override older lore):")
            parts += [f"- {_clip(concept.render(), max_snippet_chars)}" for concept in self.concepts]
        if self.lore:
            parts.append("Lore:")
            parts += [
                f"- [{hit.title} > {hit.heading}] {_clip(hit.text, max_snippet_chars)}"
                if hit.heading and hit.heading != hit.title
                else f"- [{hit.title}] {_clip(hit.text, max_snippet_chars)}"
                for hit in self.lore
            ]
        if self.memories:
            parts.append("Memories:")
            parts += [f"- {_clip(item.memory.text, max_snippet_chars)}" for item in self.memories]
        if self.events:
            parts.append("Recent events:")
            parts += [
                f"- {event.story_date + ': ' if event.story_date else ''}{_clip(event.summary, max_snippet_chars)}"
                for event in self.events
            ]
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (msgpack/JSON ready)."""
        return {
            "world": self.world,
            "query": self.query,
            "lore": [hit.to_dict() for hit in self.lore],
            "memories": [item.to_dict() for item in self.memories],
            "events": [
                {"id": e.id, "kind": e.kind, "summary": e.summary, "story_date": e.story_date,
                 "occurred_at": e.occurred_at.isoformat()}
                for e in self.events
            ],
            "concepts": [
                {"name": c.name, "kind": c.kind, "world": c.world, "version": c.version, "summary": c.summary,
                 "attributes": c.attributes}
                for c in self.concepts
            ],
            "text": self.render(),
        }


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


async def prompt_context(
    kb: KnowledgeBase,
    world: str,
    query: str,
    *,
    owner: str | None = None,
    lore_k: int = 3,
    memory_k: int = 5,
    events_k: int = 0,
) -> PromptContext:
    """Lore snippets (hybrid search) and, for ``owner`` (an NPC id or 'storyteller'), its
    memories (recalling them marks them accessed), plus the latest ``events_k`` events, led by
    the current version of each concept named in the query, the lore or the memories.

    The query is embedded once and shared by the lore search and the memory recall.

    Raises:
        KnowledgeBaseError: empty query, bad owner or sizes.
        UnknownWorldError: ``world`` is not known.
    """
    text = check_query(query)
    await require_world(kb.pool, world)
    vector = await kb.embedder.embed_one(text)
    lore_task = search(kb, text, world=world, k=lore_k, query_vector=vector)
    if owner is not None:
        lore, memories = await asyncio.gather(
            lore_task, recall(kb, world, owner, text, k=memory_k, query_vector=vector)
        )
    else:
        lore, memories = await lore_task, []
    events = await recent_events(kb, world, limit=events_k) if events_k > 0 else []
    named = "\n".join([text, *(hit.text for hit in lore), *(item.memory.text for item in memories)])
    concepts = await mentioned_concepts(kb, world, named)
    return PromptContext(world=world, query=text, lore=lore, memories=memories, events=events, concepts=concepts)
