"""Story events: what happened in a world, recorded from the journal, and the concept
versions each event caused."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loreweave.kb.concepts import ConceptChange, ConceptVersion, StoryEvent, apply_change, story_event
from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.store import KnowledgeBase
from loreweave.kb.worlds import ensure_world, require_world

MAX_SUMMARY_CHARS = 4000


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored, the concept versions it made, and whether it was new."""

    event: StoryEvent
    versions: dict[str, ConceptVersion]
    created: bool


async def record_event(
    kb: KnowledgeBase,
    world: str,
    kind: str,
    summary: str,
    *,
    changes: Sequence[ConceptChange] = (),
    occurred_at: datetime | None = None,
    story_date: str | None = None,
    journal_id: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> RecordedEvent:
    """Record a story event and, in the same transaction, the concept versions it causes.

    An event with a ``journal_id`` already recorded in ``world`` is not recorded again
    (importing the journal twice is harmless): the stored one comes back, ``created`` False.

    Raises:
        KnowledgeBaseError: empty kind or summary; a change names an unknown concept
            without a kind (nothing is recorded then).
    """
    if not isinstance(kind, str) or not kind.strip():
        raise KnowledgeBaseError("kind", "is empty")
    if not isinstance(summary, str) or not summary.strip():
        raise KnowledgeBaseError("summary", "is empty")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise KnowledgeBaseError("summary", f"is longer than {MAX_SUMMARY_CHARS} characters")
    await ensure_world(kb.pool, world)
    async with kb.pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            """
            INSERT INTO kb_story_events (world_id, journal_id, kind, summary, story_date, occurred_at, payload)
            VALUES ($1, $2, $3, $4, $5, coalesce($6, now()), $7::jsonb)
            ON CONFLICT ON CONSTRAINT kb_story_events_journal_key DO NOTHING
            RETURNING *
            """,
            world,
            journal_id,
            kind.strip(),
            summary.strip(),
            story_date,
            occurred_at,
            json.dumps(dict(payload or {})),
        )
        if row is None:
            existing = await conn.fetchrow(
                "SELECT * FROM kb_story_events WHERE world_id = $1 AND journal_id = $2", world, journal_id
            )
            return RecordedEvent(story_event(existing), {}, created=False)
        event = story_event(row)
        versions = {change.name: await apply_change(conn, world, change, event) for change in changes}
    return RecordedEvent(event, versions, created=True)


async def recent_events(kb: KnowledgeBase, world: str, *, limit: int = 10) -> list[StoryEvent]:
    """The world's latest story events, newest first.

    Raises:
        UnknownWorldError: ``world`` is not known.
    """
    await require_world(kb.pool, world)
    rows = await kb.pool.fetch(
        "SELECT * FROM kb_story_events WHERE world_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2",
        world,
        max(1, min(limit, 100)),
    )
    return [story_event(row) for row in rows]
