"""NPC and storyteller memories, retrieved as in Generative Agents (Park et al. 2023).

score = w_rec * recency + w_imp * importance + w_rel * relevance, where
recency = decay ** hours since the memory was last accessed, importance is the 1-10
rating given when it was stored, relevance is the cosine similarity to the query,
and each is min-max normalised over the candidate memories. Recalling a memory
marks it accessed, so memories in use stay fresh.
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


@dataclass(frozen=True, slots=True)
class RecallWeights:
    """Weights of the three normalised components (the paper uses 1, 1, 1)."""

    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0


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
        for key in ("created_at", "last_accessed_at"):
            data["memory"][key] = data["memory"][key].isoformat()
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
) -> Memory:
    """Store a memory for ``owner`` in ``world`` (created if new); ``at`` defaults to now.

    ``importance`` rates poignancy from 1 (brushing teeth) to 10 (a break-up), as the
    paper asks the language model to.

    Raises:
        KnowledgeBaseError: empty or too long text, bad owner, importance out of 1-10.
    """
    _check_owner(owner)
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
                                 created_at, last_accessed_at)
        VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), coalesce($7, now()))
        RETURNING *
        """,
        world,
        owner,
        text.strip(),
        float(importance),
        vector,
        event_id,
        at,
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
    weights: RecallWeights = RecallWeights(),
    decay_per_hour: float = DECAY_PER_HOUR,
    touch: bool = True,
    query_vector: NDArray[np.float32] | None = None,
) -> list[RecalledMemory]:
    """The ``k`` memories of ``owner`` that best serve ``query`` now, best first.

    Reading a memory sets its last access to ``now`` (unless ``touch`` is False).
    ``query_vector`` reuses an embedding of ``query`` already computed.

    Raises:
        KnowledgeBaseError: empty query, bad owner, ``k`` out of range.
        UnknownWorldError: ``world`` is not known.
    """
    text = check_query(query)
    _check_owner(owner)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise KnowledgeBaseError("k", f"must be an integer from 1 to {MAX_K}, got {k!r}")
    await require_world(kb.pool, world)
    moment = now or datetime.now(UTC)
    vector = query_vector if query_vector is not None else await kb.embedder.embed_one(text)
    rows = await kb.pool.fetch(
        """
        WITH owned AS (
            SELECT id, world_id, owner, body, importance, created_at, last_accessed_at, event_id,
                   1 - (embedding <=> $3) AS relevance
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
    recency = _normalise(np.power(decay_per_hour, hours))
    importance = _normalise(np.array([float(row["importance"]) for row in rows]))
    relevance = _normalise(np.array([float(row["relevance"]) for row in rows]))
    scores = weights.recency * recency + weights.importance * importance + weights.relevance * relevance
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], -rows[i]["id"]))[:k]
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


async def forget(kb: KnowledgeBase, world: str, owner: str) -> int:
    """Delete every memory of ``owner`` in ``world``; the number deleted."""
    result = await kb.pool.execute("DELETE FROM kb_memories WHERE world_id = $1 AND owner = $2", world, owner)
    return int(result.split()[-1])
