"""Concepts (characters, places, factions, items, themes) and their versions over time.

Each concept keeps every version of what was believed about it: version 1 when it is
defined, then one more each time a story event changes it, pointing at that event.
So the history answers both "what is true now" and "what was believed when".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

import asyncpg

from loreweave.kb.errors import KnowledgeBaseError, NotFoundError
from loreweave.kb.store import KnowledgeBase
from loreweave.kb.worlds import Executor, check_world_id, ensure_world, require_world

ConceptKind = Literal["character", "place", "faction", "item", "theme"]
CONCEPT_KINDS: tuple[str, ...] = get_args(ConceptKind)
MAX_NAME_CHARS = 200
MAX_SUMMARY_CHARS = 4000


@dataclass(frozen=True, slots=True)
class StoryEvent:
    """Something that happened in a world's story, as recorded from the journal."""

    id: int
    world: str
    kind: str
    summary: str
    occurred_at: datetime
    story_date: str | None = None
    journal_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Concept:
    """A named thing of the lore; ``world`` None for a global concept."""

    id: int
    world: str | None
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class ConceptVersion:
    """What was believed about a concept from ``valid_from`` on, and the event that changed it."""

    version: int
    summary: str
    attributes: dict[str, Any]
    valid_from: datetime
    recorded_at: datetime
    event: StoryEvent | None = None


@dataclass(frozen=True, slots=True)
class ConceptHistory:
    """A concept with all its versions, oldest first."""

    concept: Concept
    versions: list[ConceptVersion]

    @property
    def current(self) -> ConceptVersion:
        """The latest version."""
        return self.versions[-1]

    def as_of(self, moment: datetime) -> ConceptVersion | None:
        """The version believed at ``moment`` (None before the concept existed)."""
        believed = None
        for version in self.versions:
            if version.valid_from <= moment:
                believed = version
        return believed

    def as_of_story(self, story_date: str) -> ConceptVersion:
        """The version believed once the story reached ``story_date``: the last version made by
        an event of that story date (case and spacing aside). Story dates are the world's own
        calendar, free text that cannot be ordered, so a date no event has is refused.

        Raises:
            KnowledgeBaseError: no event that changed this concept has that story date (the
                reason lists those that do).
        """
        wanted = " ".join(story_date.split()).casefold()
        believed = None
        for version in self.versions:
            event = version.event
            if event is not None and event.story_date and " ".join(event.story_date.split()).casefold() == wanted:
                believed = version
        if believed is None:
            known = [v.event.story_date for v in self.versions if v.event is not None and v.event.story_date]
            listed = "; ".join(dict.fromkeys(known)) or "none has a story date"
            raise KnowledgeBaseError(
                "as_of", f"no event that changed {self.concept.name!r} happened on {story_date!r} (story dates: {listed})"
            )
        return believed

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (msgpack/JSON ready), times as ISO 8601 strings; :meth:`from_dict` reverses it."""
        data = asdict(self)
        for version in data["versions"]:
            for key in ("valid_from", "recorded_at"):
                version[key] = version[key].isoformat()
            if version["event"] is not None:
                version["event"]["occurred_at"] = version["event"]["occurred_at"].isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConceptHistory:
        """The history that :meth:`to_dict` wrote."""
        versions = []
        for item in data["versions"]:
            event = item.get("event")
            versions.append(
                ConceptVersion(
                    version=item["version"],
                    summary=item["summary"],
                    attributes=dict(item.get("attributes") or {}),
                    valid_from=datetime.fromisoformat(item["valid_from"]),
                    recorded_at=datetime.fromisoformat(item["recorded_at"]),
                    event=None if event is None else StoryEvent(
                        **{**event, "occurred_at": datetime.fromisoformat(event["occurred_at"])}
                    ),
                )
            )
        return cls(Concept(**data["concept"]), versions)


@dataclass(frozen=True, slots=True)
class ConceptChange:
    """How an event changes one concept: its new summary and the attributes that change.

    ``attributes`` are merged into the previous version's; a key set to None is removed.
    ``kind`` is needed only when the concept does not exist yet in the event's world.
    """

    name: str
    summary: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    kind: ConceptKind | None = None


def check_name(name: object) -> str:
    """Return the stripped concept name, or raise naming the problem."""
    if not isinstance(name, str) or not name.strip():
        raise KnowledgeBaseError("name", "is empty")
    if len(name.strip()) > MAX_NAME_CHARS:
        raise KnowledgeBaseError("name", f"is longer than {MAX_NAME_CHARS} characters")
    return name.strip()


def check_kind(kind: object) -> str:
    """Return ``kind`` if it is a concept kind, else raise."""
    if kind not in CONCEPT_KINDS:
        raise KnowledgeBaseError("kind", f"must be one of {', '.join(CONCEPT_KINDS)}, got {kind!r}")
    return str(kind)


def check_summary(summary: object) -> str:
    """Return the stripped summary, or raise naming the problem."""
    if not isinstance(summary, str) or not summary.strip():
        raise KnowledgeBaseError("summary", "is empty")
    if len(summary) > MAX_SUMMARY_CHARS:
        raise KnowledgeBaseError("summary", f"is longer than {MAX_SUMMARY_CHARS} characters")
    return summary.strip()


def _json_object(value: Any) -> dict[str, Any]:
    data = json.loads(value) if isinstance(value, str) else value
    return dict(data or {})


def story_event(row: asyncpg.Record) -> StoryEvent:
    """A :class:`StoryEvent` from a ``kb_story_events`` row."""
    return StoryEvent(
        id=row["id"],
        world=row["world_id"],
        kind=row["kind"],
        summary=row["summary"],
        occurred_at=row["occurred_at"],
        story_date=row["story_date"],
        journal_id=row["journal_id"],
        payload=_json_object(row["payload"]),
    )


async def define_concept(
    kb: KnowledgeBase,
    name: str,
    kind: ConceptKind,
    summary: str,
    *,
    world: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    valid_from: datetime | None = None,
    exist_ok: bool = False,
) -> ConceptHistory:
    """Define a concept with its first version (``world`` None: global).

    With ``exist_ok`` an existing concept is returned unchanged (for idempotent seeding).

    Raises:
        KnowledgeBaseError: bad name, kind or summary; the concept exists (without ``exist_ok``).
    """
    name, kind_ = check_name(name), check_kind(kind)
    text = check_summary(summary)
    if world is not None:
        await ensure_world(kb.pool, world)
    async with kb.pool.acquire() as conn, conn.transaction():
        concept_id = await conn.fetchval(
            """
            INSERT INTO kb_concepts (world_id, name, kind) VALUES ($1, $2, $3)
            ON CONFLICT (world_id, lower(name)) DO NOTHING RETURNING id
            """,
            world,
            name,
            kind_,
        )
        if concept_id is None:
            if not exist_ok:
                raise KnowledgeBaseError(
                    "name", f"concept {name!r} is already defined{_in(world)}: record an event to change it"
                )
        else:
            await conn.execute(
                """
                INSERT INTO kb_concept_versions (concept_id, version, summary, attributes, valid_from)
                VALUES ($1, 1, $2, $3::jsonb, coalesce($4, now()))
                """,
                concept_id,
                text,
                json.dumps(dict(attributes or {})),
                valid_from,
            )
    return await concept_history(kb, name, world=world, exact_world=True)


async def apply_change(
    conn: asyncpg.Connection, world: str, change: ConceptChange, event: StoryEvent
) -> ConceptVersion:
    """Record the version ``change`` makes to a concept of ``world``, caused by ``event``.

    Run inside the transaction that recorded the event. A concept the world does not
    have yet is created: with ``change.kind``, or the kind of the global concept of
    that name.

    Raises:
        NotFoundError: the concept is unknown and no kind was given.
    """
    name = check_name(change.name)
    summary = check_summary(change.summary)
    row = await conn.fetchrow(
        "SELECT id FROM kb_concepts WHERE world_id = $1 AND lower(name) = lower($2) FOR UPDATE", world, name
    )
    previous: dict[str, Any] = {}
    if row is None:
        kind = change.kind or await conn.fetchval(
            "SELECT kind FROM kb_concepts WHERE world_id IS NULL AND lower(name) = lower($1)", name
        )
        if kind is None:
            raise NotFoundError(
                "name", f"concept {name!r} is not defined in world {world!r}; give its kind to create it"
            )
        concept_id = await conn.fetchval(
            "INSERT INTO kb_concepts (world_id, name, kind) VALUES ($1, $2, $3) RETURNING id",
            world,
            name,
            check_kind(kind),
        )
        version = 1
    else:
        concept_id = row["id"]
        last = await conn.fetchrow(
            "SELECT version, attributes FROM kb_concept_versions WHERE concept_id = $1"
            " ORDER BY version DESC LIMIT 1",
            concept_id,
        )
        version = last["version"] + 1 if last else 1
        previous = _json_object(last["attributes"]) if last else {}
    attributes = {**previous, **change.attributes}
    attributes = {key: value for key, value in attributes.items() if value is not None}
    stored = await conn.fetchrow(
        """
        INSERT INTO kb_concept_versions (concept_id, version, summary, attributes, event_id, valid_from)
        VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING *
        """,
        concept_id,
        version,
        summary,
        json.dumps(attributes),
        event.id,
        event.occurred_at,
    )
    return _version(stored, event)


async def _find_concept(db: Executor, name: str, world: str | None, exact_world: bool) -> asyncpg.Record:
    if world is not None:
        row = await db.fetchrow(
            "SELECT * FROM kb_concepts WHERE lower(name) = lower($1)"
            " AND (world_id = $2 OR (world_id IS NULL AND NOT $3)) ORDER BY world_id NULLS LAST LIMIT 1",
            name,
            world,
            exact_world,
        )
        if row is None:
            raise NotFoundError("name", f"no concept named {name!r}{_in(world)} or in global lore")
        return row
    rows = await db.fetch(
        "SELECT * FROM kb_concepts WHERE lower(name) = lower($1) ORDER BY world_id NULLS FIRST", name
    )
    if not rows:
        raise NotFoundError("name", f"no concept named {name!r}")
    if rows[0]["world_id"] is None or len(rows) == 1:
        return rows[0]
    worlds = ", ".join(row["world_id"] for row in rows)
    raise KnowledgeBaseError("world", f"concept {name!r} exists in several worlds ({worlds}): name one")


async def concept_history(
    kb: KnowledgeBase, name: str, *, world: str | None = None, exact_world: bool = False
) -> ConceptHistory:
    """Every version of a concept, oldest first, each with the event that caused it.

    With ``world``, the world's concept (or, unless ``exact_world``, the global one of
    that name); without, the global concept, or the only world that has one.

    Raises:
        NotFoundError: no such concept.
        KnowledgeBaseError: no world given and several worlds have a concept of that name.
    """
    name = check_name(name)
    if world is not None:
        check_world_id(world)
        await require_world(kb.pool, world)
    row = await _find_concept(kb.pool, name, world, exact_world)
    versions = await kb.pool.fetch(
        """
        SELECT v.*, e.id AS e_id, e.world_id AS e_world_id, e.kind AS e_kind, e.summary AS e_summary,
               e.occurred_at AS e_occurred_at, e.story_date AS e_story_date,
               e.journal_id AS e_journal_id, e.payload AS e_payload
          FROM kb_concept_versions v LEFT JOIN kb_story_events e ON e.id = v.event_id
         WHERE v.concept_id = $1 ORDER BY v.version
        """,
        row["id"],
    )
    concept = Concept(id=row["id"], world=row["world_id"], name=row["name"], kind=row["kind"])
    return ConceptHistory(concept, [_version(v, _joined_event(v)) for v in versions])


def _joined_event(row: asyncpg.Record) -> StoryEvent | None:
    if row["e_id"] is None:
        return None
    return StoryEvent(
        id=row["e_id"],
        world=row["e_world_id"],
        kind=row["e_kind"],
        summary=row["e_summary"],
        occurred_at=row["e_occurred_at"],
        story_date=row["e_story_date"],
        journal_id=row["e_journal_id"],
        payload=_json_object(row["e_payload"]),
    )


def _version(row: asyncpg.Record, event: StoryEvent | None) -> ConceptVersion:
    return ConceptVersion(
        version=row["version"],
        summary=row["summary"],
        attributes=_json_object(row["attributes"]),
        valid_from=row["valid_from"],
        recorded_at=row["recorded_at"],
        event=event,
    )


def _in(world: str | None) -> str:
    return f" in world {world!r}" if world is not None else " in global lore"


@dataclass(frozen=True, slots=True)
class CurrentConcept:
    """What is true of a concept now: its latest version (``version`` > 1: events changed it)."""

    name: str
    kind: str
    world: str | None
    version: int
    summary: str
    attributes: dict[str, Any]

    def render(self) -> str:
        """One line for a prompt."""
        attrs = ", ".join(f"{key}={value}" for key, value in sorted(self.attributes.items()))
        return f"{self.name} ({self.kind}): {self.summary}" + (f" [{attrs}]" if attrs else "")


async def mentioned_concepts(kb: KnowledgeBase, world: str, text: str, *, limit: int = 5) -> list[CurrentConcept]:
    """The current version of each concept of ``world`` (or global) whose name occurs in ``text``.

    Concepts that events changed come first, so a prompt states what changed before anything
    the older lore says about it.
    """
    rows = await kb.pool.fetch(
        """
        SELECT c.name, c.kind, c.world_id, v.version, v.summary, v.attributes
          FROM kb_concepts c
          JOIN LATERAL (SELECT version, summary, attributes FROM kb_concept_versions
                         WHERE concept_id = c.id ORDER BY version DESC LIMIT 1) v ON true
         WHERE (c.world_id IS NULL OR c.world_id = $1) AND strpos(lower($2), lower(c.name)) > 0
         ORDER BY v.version DESC, c.world_id NULLS LAST, c.name
         LIMIT $3
        """,
        world,
        text,
        limit,
    )
    return [
        CurrentConcept(
            name=row["name"], kind=row["kind"], world=row["world_id"], version=row["version"],
            summary=row["summary"], attributes=_json_object(row["attributes"]),
        )
        for row in rows
    ]
