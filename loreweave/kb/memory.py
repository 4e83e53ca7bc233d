"""NPC and storyteller memories, retrieved as in Generative Agents (Park et al. 2023).

score = w_rec * recency + w_imp * importance + w_rel * relevance, where
recency = decay ** hours since the memory was last accessed, importance is the 1-10
rating given when it was stored, scaled to 0-1, and relevance is the cosine similarity
to the query, min-max normalised over the candidate memories. Recalling a memory marks
it accessed, so memories in use stay fresh.

Two departures from the paper, both so that one memory cannot answer every question:
recency and importance are not min-max normalised (over a conversation of a few minutes
that stretched a difference of seconds into the full 0-1 range, so the memory just
recalled always won again), and a memory nearly identical to one already chosen is
passed over for the next (``DUPLICATE_SIMILARITY``). The weights are settable per world
(:func:`set_memory_settings`); the defaults favour relevance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
from numpy.typing import NDArray

from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.search import check_query
from loreweave.kb.store import KnowledgeBase
from loreweave.kb.worlds import ensure_world, require_world

#: The owner of the storyteller's own memories (an NPC's owner is its id).
STORYTELLER = "storyteller"
#: Recency decay per hour since last access (the paper's 0.995).
DECAY_PER_HOUR = 0.995
MAX_MEMORY_CHARS = 4000
MAX_OWNER_CHARS = 200
#: Memories scored per recall: the best of each component, so none is starved.
CANDIDATES_PER_COMPONENT = 200
MAX_K = 50
#: Two memories this similar (cosine) say the same thing: recall returns only the better.
DUPLICATE_SIMILARITY = 0.9
#: Summed importance of new observations that makes an owner reflect (the paper's 150).
REFLECT_THRESHOLD = 150.0
MAX_KIND_CHARS = 40


@dataclass(frozen=True, slots=True)
class Memory:
    """One stored memory of an NPC or of the storyteller."""

    id: int
    world: str
    owner: str
    text: str
    importance: float
    created_at: datetime
    last_accessed_at: datetime
    event_id: int | None = None
    kind: str = "observation"
    subject: str | None = None
    evidence: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A plain dict, times as ISO 8601 strings."""
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["last_accessed_at"] = self.last_accessed_at.isoformat()
        data["evidence"] = list(self.evidence)
        return data


@dataclass(frozen=True, slots=True)
class RecallWeights:
    """Weights of the three components (the paper uses 1, 1, 1; relevance leads here)."""

    recency: float = 0.5
    importance: float = 0.5
    relevance: float = 1.5

    def __post_init__(self) -> None:
        for name in ("recency", "importance", "relevance"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise KnowledgeBaseError(name, f"must be a number from 0 to 100, got {value!r}")


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """A world's memory settings: recall weights and the reflection threshold."""

    weights: RecallWeights = RecallWeights()
    reflect_threshold: float = REFLECT_THRESHOLD


@dataclass(frozen=True, slots=True)
class RecalledMemory:
    """A recalled memory with its score and the normalised components that made it."""

    memory: Memory
    score: float
    recency: float
    importance: float
    relevance: float

    def to_dict(self) -> dict[str, Any]:
        """A plain dict, times as ISO 8601 strings."""
        data = asdict(self)
        data["memory"] = self.memory.to_dict()
        return data


def _check_owner(owner: object) -> str:
    if not isinstance(owner, str) or not owner.strip():
        raise KnowledgeBaseError("owner", "must be a non-empty string (an NPC id, or 'storyteller')")
    if len(owner) > MAX_OWNER_CHARS:
        raise KnowledgeBaseError("owner", f"is longer than {MAX_OWNER_CHARS} characters")
    return owner


def _memory(row: asyncpg.Record) -> Memory:
    return Memory(
        id=row["id"],
        world=row["world_id"],
        owner=row["owner"],
        text=row["body"],
        importance=float(row["importance"]),
        created_at=row["created_at"],
        last_accessed_at=row["last_accessed_at"],
        event_id=row["event_id"],
        kind=row["kind"],
        subject=row["subject"],
        evidence=tuple(row["evidence"]),
    )


async def remember(
    kb: KnowledgeBase,
    world: str,
    owner: str,
    text: str,
    *,
    importance: float = 5.0,
    at: datetime | None = None,
    event_id: int | None = None,
    kind: str = "observation",
    subject: str | None = None,
    evidence: tuple[int, ...] | list[int] = (),
) -> Memory:
    """Store a memory for ``owner`` in ``world`` (created if new); ``at`` defaults to now.

    ``importance`` rates poignancy from 1 (brushing teeth) to 10 (a break-up), as the
    paper asks the language model to. ``kind`` says what it is (``observation``, ``met``,
    ``heard``, ``quest``, ``weather``, ``world``, ``reflection``...), ``subject`` whom or
    what it is about, ``evidence`` the memories a reflection was drawn from.

    Raises:
        KnowledgeBaseError: empty or too long text, bad owner, kind or subject, importance out of 1-10.
    """
    _check_owner(owner)
    if not isinstance(kind, str) or not 1 <= len(kind) <= MAX_KIND_CHARS:
        raise KnowledgeBaseError("kind", f"must be a string of 1 to {MAX_KIND_CHARS} characters, got {kind!r}")
    if subject is not None and (not isinstance(subject, str) or not 1 <= len(subject) <= MAX_OWNER_CHARS):
        raise KnowledgeBaseError("subject", f"must be a string of 1 to {MAX_OWNER_CHARS} characters or none")
    if not isinstance(text, str) or not text.strip():
        raise KnowledgeBaseError("text", "is empty")
    if len(text) > MAX_MEMORY_CHARS:
        raise KnowledgeBaseError("text", f"is {len(text)} characters, more than {MAX_MEMORY_CHARS}")
    if isinstance(importance, bool) or not isinstance(importance, (int, float)) or not 1 <= importance <= 10:
        raise KnowledgeBaseError("importance", f"must be a number from 1 to 10, got {importance!r}")
    await ensure_world(kb.pool, world)
    vector = await kb.embedder.embed_one(text.strip())
    row = await kb.pool.fetchrow(
        """
        INSERT INTO kb_memories (world_id, owner, body, importance, embedding, event_id,
                                 created_at, last_accessed_at, kind, subject, evidence)
        VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), coalesce($7, now()), $8, $9, $10)
        RETURNING *
        """,
        world,
        owner,
        text.strip(),
        float(importance),
        vector,
        event_id,
        at,
        kind,
        subject,
        list(evidence),
    )
    return _memory(row)


def _normalise(values: NDArray[np.float64]) -> NDArray[np.float64]:
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-12:
        # Every candidate is equal on this component: it cannot tell them apart.
        return np.ones_like(values)
    return (values - low) / (high - low)


async def recall(
    kb: KnowledgeBase,
    world: str,
    owner: str,
    query: str,
    *,
    k: int = 5,
    now: datetime | None = None,
    weights: RecallWeights | None = None,
    decay_per_hour: float = DECAY_PER_HOUR,
    touch: bool = True,
    query_vector: NDArray[np.float32] | None = None,
) -> list[RecalledMemory]:
    """The ``k`` memories of ``owner`` that best serve ``query`` now, best first.

    ``weights`` default to the world's (:func:`memory_settings`). Reading a memory sets its
    last access to ``now`` (unless ``touch`` is False). ``query_vector`` reuses an embedding
    of ``query`` already computed.

    Raises:
        KnowledgeBaseError: empty query, bad owner, ``k`` out of range.
        UnknownWorldError: ``world`` is not known.
    """
    text = check_query(query)
    _check_owner(owner)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise KnowledgeBaseError("k", f"must be an integer from 1 to {MAX_K}, got {k!r}")
    await require_world(kb.pool, world)
    if weights is None:
        weights = (await memory_settings(kb, world)).weights
    moment = now or datetime.now(UTC)
    vector = query_vector if query_vector is not None else await kb.embedder.embed_one(text)
    rows = await kb.pool.fetch(
        """
        WITH owned AS (
            SELECT id, world_id, owner, body, importance, created_at, last_accessed_at, event_id,
                   kind, subject, evidence, embedding, 1 - (embedding <=> $3) AS relevance
              FROM kb_memories WHERE world_id = $1 AND owner = $2)
        (SELECT * FROM owned ORDER BY relevance DESC LIMIT $4)
        UNION
        (SELECT * FROM owned ORDER BY last_accessed_at DESC LIMIT $4)
        UNION
        (SELECT * FROM owned ORDER BY importance DESC LIMIT $4)
        """,
        world,
        owner,
        vector,
        CANDIDATES_PER_COMPONENT,
    )
    if not rows:
        return []
    hours = np.array(
        [max(0.0, (moment - row["last_accessed_at"]).total_seconds() / 3600.0) for row in rows]
    )
    recency = np.power(decay_per_hour, hours)
    importance = (np.array([float(row["importance"]) for row in rows]) - 1.0) / 9.0
    relevance = _normalise(np.array([float(row["relevance"]) for row in rows]))
    scores = weights.recency * recency + weights.importance * importance + weights.relevance * relevance
    order = _distinct(rows, sorted(range(len(rows)), key=lambda i: (-scores[i], -rows[i]["id"])), k)
    recalled = [
        RecalledMemory(
            memory=_memory(rows[i]),
            score=float(scores[i]),
            recency=float(recency[i]),
            importance=float(importance[i]),
            relevance=float(relevance[i]),
        )
        for i in order
    ]
    if touch:
        ids = [item.memory.id for item in recalled]
        await kb.pool.execute(
            "UPDATE kb_memories SET last_accessed_at = greatest(last_accessed_at, $2) WHERE id = ANY($1::bigint[])",
            ids,
            moment,
        )
        recalled = [
            replace(item, memory=replace(item.memory, last_accessed_at=max(item.memory.last_accessed_at, moment)))
            for item in recalled
        ]
    return recalled


def _distinct(rows: list[asyncpg.Record], ranked: list[int], k: int) -> list[int]:
    """The first ``k`` of ``ranked``, skipping a memory nearly identical to one already chosen."""
    chosen: list[int] = []
    vectors: list[NDArray[np.float32]] = []
    for i in ranked:
        vector = np.asarray(rows[i]["embedding"], dtype=np.float32)
        if any(float(vector @ other) >= DUPLICATE_SIMILARITY for other in vectors):
            continue
        chosen.append(i)
        vectors.append(vector)
        if len(chosen) == k:
            break
    return chosen


async def memory_settings(kb: KnowledgeBase, world: str) -> MemorySettings:
    """The world's memory settings (the defaults until :func:`set_memory_settings`)."""
    row = await kb.pool.fetchrow("SELECT * FROM kb_memory_settings WHERE world_id = $1", world)
    if row is None:
        return MemorySettings()
    return MemorySettings(
        RecallWeights(float(row["recency"]), float(row["importance"]), float(row["relevance"])),
        float(row["reflect_threshold"]),
    )


async def set_memory_settings(
    kb: KnowledgeBase,
    world: str,
    *,
    weights: RecallWeights | None = None,
    reflect_threshold: float | None = None,
) -> MemorySettings:
    """Set the world's recall weights and/or reflection threshold (the rest stays); the result.

    Raises:
        KnowledgeBaseError: a threshold that is not a positive number, a bad world id.
    """
    if reflect_threshold is not None and (
        isinstance(reflect_threshold, bool) or not isinstance(reflect_threshold, (int, float)) or reflect_threshold <= 0
    ):
        raise KnowledgeBaseError("reflect_threshold", f"must be a positive number, got {reflect_threshold!r}")
    await ensure_world(kb.pool, world)
    current = await memory_settings(kb, world)
    settings = MemorySettings(
        weights or current.weights,
        float(reflect_threshold) if reflect_threshold is not None else current.reflect_threshold,
    )
    await kb.pool.execute(
        """
        INSERT INTO kb_memory_settings (world_id, recency, importance, relevance, reflect_threshold)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (world_id) DO UPDATE
           SET recency = EXCLUDED.recency, importance = EXCLUDED.importance, relevance = EXCLUDED.relevance,
               reflect_threshold = EXCLUDED.reflect_threshold, updated_at = now()
        """,
        world,
        settings.weights.recency,
        settings.weights.importance,
        settings.weights.relevance,
        settings.reflect_threshold,
    )
    return settings


async def list_memories(kb: KnowledgeBase, world: str, owner: str, *, limit: int = 20) -> list[Memory]:
    """The newest ``limit`` memories of ``owner`` (no scoring, no access marked)."""
    _check_owner(owner)
    rows = await kb.pool.fetch(
        "SELECT * FROM kb_memories WHERE world_id = $1 AND owner = $2 ORDER BY id DESC LIMIT $3",
        world,
        owner,
        max(1, min(limit, 500)),
    )
    return [_memory(row) for row in rows]


async def forget(kb: KnowledgeBase, world: str, owner: str) -> int:
    """Delete every memory of ``owner`` in ``world``; the number deleted."""
    result = await kb.pool.execute("DELETE FROM kb_memories WHERE world_id = $1 AND owner = $2", world, owner)
    return int(result.split()[-1])
