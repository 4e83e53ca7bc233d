"""Story events from the event journal: the frames that matter to the story become
``kb_story_events``, once each (keyed by frame id)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from loreweave.kb.events import record_event
from loreweave.kb.store import KnowledgeBase

#: Event types recorded as story events by default.
STORY_EVENT_TYPES: tuple[str, ...] = (
    "narrative.beat",
    "narrative.hook",
    "quest.completed",
    "quest.failed",
    "npc.relationship_changed",
    "player.defeated",
)


class JournalLike(Protocol):
    """What an import needs of a journal entry (``loreweave.db.JournalEntry`` has it)."""

    @property
    def frame_id(self) -> str: ...
    @property
    def world(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def ts(self) -> datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...


def summarise(event_type: str, payload: Mapping[str, Any]) -> str:
    """A one-line summary of a journaled event: its text if it has one, else its fields."""
    for key in ("text", "summary", "description", "title"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:4000]
    fields = json.dumps(dict(payload), sort_keys=True, default=str)
    return f"{event_type} {fields}"[:4000]


async def import_entries(
    kb: KnowledgeBase, entries: Iterable[JournalLike], *, types: Sequence[str] | None = STORY_EVENT_TYPES
) -> int:
    """Record the story-worthy ``entries`` as story events; return how many were new.

    Entries already imported (same world and frame id) are skipped.
    """
    created = 0
    for entry in entries:
        if types is not None and entry.type not in types:
            continue
        payload = dict(entry.payload)
        recorded = await record_event(
            kb,
            entry.world,
            entry.type,
            summarise(entry.type, payload),
            occurred_at=entry.ts,
            journal_id=entry.frame_id,
            payload=payload,
            story_date=payload.get("story_date") if isinstance(payload.get("story_date"), str) else None,
        )
        created += recorded.created
    return created


async def import_journal(
    kb: KnowledgeBase,
    world: str,
    *,
    since: datetime | None = None,
    types: Sequence[str] = STORY_EVENT_TYPES,
    limit: int = 1000,
) -> int:
    """Import a world's story-worthy journal entries (from ``since``); how many were new."""
    from loreweave.db.journal import Journal

    entries = await Journal(kb.pool).query(world, since=since, types=list(types), limit=limit, latest=since is None)
    return await import_entries(kb, entries, types=types)
