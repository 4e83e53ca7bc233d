"""Hybrid lore search: HNSW vector search plus full text, fused by weighted scores.

A search in a world sees that world's lore and global lore; a search with no world
sees global lore only. How the two lists are merged is :mod:`loreweave.kb.fusion`.

A vector query filtered to a world walks the HNSW index first and filters afterwards;
with many chunks of other worlds near the query (pgvector 0.6 has no iterative scans)
it can come back short, even empty. A short list is then redone as an exact scan of
the scope, so a search never returns fewer than ``k`` rows while ``k`` exist in scope.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import asyncpg

from loreweave.kb.errors import KnowledgeBaseError
from loreweave.kb.fusion import (
    FUSIONS,
    RRF_K,
    Fusion,
    idf,
    reciprocal_rank_fusion,
    text_coverage,
    weighted_fusion,
)
from loreweave.kb.store import KnowledgeBase
from loreweave.kb.worlds import require_world

logger = logging.getLogger(__name__)

Method = Literal["hybrid", "vector", "text"]
METHODS: tuple[str, ...] = get_args(Method)
MAX_QUERY_CHARS = 1000
MAX_K = 50
#: How many candidates each method contributes to the fusion.
CANDIDATES = 50
#: HNSW candidate list size: at least CANDIDATES, or the index returns fewer rows.
EF_SEARCH = 100
#: Vector searches whose index scan came back short and were redone exactly (since start).
EXACT_FALLBACKS = {"count": 0}

__all__ = [
    "CANDIDATES", "EF_SEARCH", "EXACT_FALLBACKS", "FUSIONS", "METHODS", "MAX_K", "RRF_K", "Fusion", "Method",
    "SearchHit", "check_query", "reciprocal_rank_fusion", "search", "text_query",
]

_WORD = re.compile(r"[^\W_]+")
_SCOPE = "(world_id IS NULL OR world_id = $2)"


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One chunk found: where it comes from, its text, and why it ranked.

    ``score`` is the fused score (hybrid: see :mod:`loreweave.kb.fusion`), the cosine
    similarity (vector) or the ``ts_rank`` (text). ``vector_rank``/``text_rank`` are its 1-based places in each
    method's list, None where that method did not find it.
    """

    chunk_id: int
    world: str | None
    source: str
    title: str
    heading: str
    heading_path: tuple[str, ...]
    text: str
    score: float
    vector_rank: int | None = None
    text_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (msgpack/JSON ready)."""
        data = asdict(self)
        data["heading_path"] = list(self.heading_path)
        return data


def check_query(query: object) -> str:
    """Return the stripped query, or raise naming what is wrong with it."""
    if not isinstance(query, str):
        raise KnowledgeBaseError("query", f"must be a string, got {type(query).__name__}")
    stripped = query.strip()
    if not stripped:
        raise KnowledgeBaseError("query", "is empty")
    if len(stripped) > MAX_QUERY_CHARS:
        raise KnowledgeBaseError("query", f"is {len(stripped)} characters, more than {MAX_QUERY_CHARS}")
    return stripped


def text_query(query: str) -> str:
    """The ``to_tsquery`` input for a natural-language query: its words joined by OR.

    OR, not AND: a question's words rarely all occur in the passage that answers it,
    and ranking already favours chunks that match more of them. Only letters and digits
    reach ``to_tsquery``, so no input can make its syntax fail.
    """
    words = dict.fromkeys(word.lower() for word in _WORD.findall(query))
    return " | ".join(list(words)[:64])


async def search(
    kb: KnowledgeBase,
    query: str,
    *,
    world: str | None = None,
    k: int = 5,
    method: Method = "hybrid",
    query_vector: Any = None,
    fusion: Fusion = "weighted",
) -> list[SearchHit]:
    """The ``k`` chunks of global plus ``world`` lore that best answer ``query``.

    ``query_vector`` reuses an embedding of ``query`` already computed. ``fusion`` picks
    how hybrid search merges its lists (``rrf`` is the former default, kept to compare).

    Raises:
        KnowledgeBaseError: empty or over-long query, ``k`` out of range, unknown method or fusion.
        UnknownWorldError: ``world`` is not known.
    """
    text = check_query(query)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise KnowledgeBaseError("k", f"must be an integer from 1 to {MAX_K}, got {k!r}")
    if method not in METHODS:
        raise KnowledgeBaseError("method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    if fusion not in FUSIONS:
        raise KnowledgeBaseError("fusion", f"must be one of {', '.join(FUSIONS)}, got {fusion!r}")
    await require_world(kb.pool, world)
    depth = k if method != "hybrid" else max(k, CANDIDATES)
    vector = None
    if method != "text":
        vector = query_vector if query_vector is not None else await kb.embedder.embed_one(text)
    async with kb.pool.acquire() as conn, conn.transaction(readonly=True):
        vector_rows = await _vector_candidates(conn, vector, world, depth) if vector is not None else []
        text_rows = await _text_candidates(conn, text, world, depth) if method != "vector" else []
        if method == "vector":
            ranked = [(row["id"], float(row["similarity"])) for row in vector_rows]
        elif method == "text":
            ranked = [(row["id"], float(row["rank"])) for row in text_rows]
        elif fusion == "rrf":
            ranked = reciprocal_rank_fusion(
                [[row["id"] for row in vector_rows], [row["id"] for row in text_rows]]
            )
        else:
            ids = list(dict.fromkeys([row["id"] for row in vector_rows] + [row["id"] for row in text_rows]))
            ranked = await _weighted(conn, text, vector, world, ids)
        ranked = ranked[:k]
        details = await _chunk_details(conn, [chunk_id for chunk_id, _ in ranked])
    vector_ranks = {row["id"]: rank for rank, row in enumerate(vector_rows, start=1)}
    text_ranks = {row["id"]: rank for rank, row in enumerate(text_rows, start=1)}
    return [
        SearchHit(
            chunk_id=chunk_id,
            world=details[chunk_id]["world_id"],
            source=details[chunk_id]["source"],
            title=details[chunk_id]["title"],
            heading=details[chunk_id]["heading"],
            heading_path=tuple(details[chunk_id]["heading_path"]),
            text=details[chunk_id]["body"],
            score=score,
            vector_rank=vector_ranks.get(chunk_id),
            text_rank=text_ranks.get(chunk_id),
        )
        for chunk_id, score in ranked
    ]


async def _vector_candidates(
    conn: asyncpg.Connection, vector: Any, world: str | None, limit: int
) -> list[asyncpg.Record]:
    await conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, limit)}")
    rows = await conn.fetch(
        f"""
        SELECT id, 1 - (embedding <=> $1) AS similarity
          FROM kb_chunks
         WHERE {_SCOPE}
         ORDER BY embedding <=> $1
         LIMIT $3
        """,
        vector,
        world,
        limit,
    )
    if len(rows) >= limit:
        return rows
    # The index walk ran out of candidates before the filter kept enough. Ordering by an
    # expression the index cannot serve makes the planner scan the scope exactly (through
    # the world index): cheap, because a short answer means the scope is small.
    exact = await conn.fetch(
        f"""
        SELECT id, 1 - (embedding <=> $1) AS similarity
          FROM kb_chunks
         WHERE {_SCOPE}
         ORDER BY (embedding <=> $1) + 0
         LIMIT $3
        """,
        vector,
        world,
        limit,
    )
    if len(exact) > len(rows):
        EXACT_FALLBACKS["count"] += 1
        logger.info(
            "kb search: the vector index gave %d of %d rows in scope %s; answered by an exact scan (%d rows)",
            len(rows), limit, world or "global", len(exact),
        )
    return exact


async def _text_candidates(
    conn: asyncpg.Connection, query: str, world: str | None, limit: int
) -> list[asyncpg.Record]:
    terms = text_query(query)
    if not terms:
        return []
    return await conn.fetch(
        """
        SELECT c.id, ts_rank(c.tsv, q) AS rank
          FROM kb_chunks c, to_tsquery('english', $1) q
         WHERE c.tsv @@ q AND (c.world_id IS NULL OR c.world_id = $2)
         ORDER BY rank DESC, c.id
         LIMIT $3
        """,
        terms,
        world,
        limit,
    )


async def _weighted(
    conn: asyncpg.Connection, query: str, vector: Any, world: str | None, ids: list[int]
) -> list[tuple[int, float]]:
    """Weighted fusion of the candidates ``ids``: their similarity and IDF-weighted text coverage."""
    if not ids:
        return []
    terms: list[str] = await conn.fetchval(
        "SELECT coalesce(array_agg(DISTINCT lexeme), '{}') FROM unnest(to_tsvector('english', $1))", query
    )
    weights: dict[str, float] = {}
    if terms:
        counts = await conn.fetch(
            f"""
            SELECT t.term,
                   (SELECT count(*) FROM kb_chunks WHERE {_SCOPE} AND tsv @@ quote_literal(t.term)::tsquery) AS df
              FROM unnest($1::text[]) AS t(term)
            """,
            terms,
            world,
        )
        in_scope = await conn.fetchval(f"SELECT count(*) FROM kb_chunks WHERE {_SCOPE.replace('$2', '$1')}", world)
        weights = {row["term"]: idf(row["df"], in_scope) for row in counts}
    rows = await conn.fetch(
        """
        SELECT id, 1 - (embedding <=> $2) AS similarity,
               array(SELECT t FROM unnest($3::text[]) AS t WHERE tsv @@ quote_literal(t)::tsquery) AS matched
          FROM kb_chunks WHERE id = ANY($1::bigint[])
        """,
        ids,
        vector,
        terms,
    )
    similarity = {row["id"]: float(row["similarity"]) for row in rows}
    coverage = {row["id"]: text_coverage(row["matched"], weights) for row in rows}
    return weighted_fusion(similarity, coverage)


async def _chunk_details(conn: asyncpg.Connection, ids: list[int]) -> dict[int, asyncpg.Record]:
    rows = await conn.fetch(
        """
        SELECT c.id, c.world_id, c.heading, c.heading_path, c.body, d.source, d.title
          FROM kb_chunks c JOIN kb_documents d ON d.id = c.document_id
         WHERE c.id = ANY($1::bigint[])
        """,
        ids,
    )
    return {row["id"]: row for row in rows}
