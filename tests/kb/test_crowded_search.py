"""A world-filtered search in a table crowded with near-duplicate chunks of 60 other worlds.

pgvector 0.6 walks the HNSW index, keeps ``ef_search`` candidates and filters afterwards: when
every candidate belongs to another world the index answers nothing. The search must notice the
short answer and scan the world's own chunks exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import pytest

from loreweave.db import create_pool
from loreweave.kb import KnowledgeBase, ensure_world, search
from loreweave.kb.search import EXACT_FALLBACKS

CROWD_WORLDS = 60
CHUNKS_PER_WORLD = 20
QUIET_CHUNKS = 8


def _unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@pytest.fixture
async def crowded(isolated_kb: KnowledgeBase, kb_dsn: str) -> AsyncIterator[tuple[KnowledgeBase, np.ndarray]]:
    """60 worlds of chunks almost on the query, one quiet world further away; a planner that
    prefers the index (as a generic plan or stale statistics make it)."""
    rng = np.random.default_rng(7)
    query = _unit(rng.normal(size=384))
    aside = _unit(rng.normal(size=384))
    rows = []
    worlds = [f"crowd{i:02d}" for i in range(CROWD_WORLDS)] + ["quiet"]
    for world in worlds:
        await ensure_world(isolated_kb.pool, world)
        document = await isolated_kb.pool.fetchval(
            "INSERT INTO kb_documents (world_id, source, title, content_hash, pipeline, size_bytes)"
            " VALUES ($1, 'lore.md', 'Lore', 'h', 'p', 1) RETURNING id",
            world,
        )
        count = QUIET_CHUNKS if world == "quiet" else CHUNKS_PER_WORLD
        for ordinal in range(count):
            noise = rng.normal(scale=0.02, size=384)
            vector = _unit(0.8 * query + 0.6 * aside + noise) if world == "quiet" else _unit(query + noise)
            rows.append((document, world, ordinal, f"{world} {ordinal}", vector))
    await isolated_kb.pool.executemany(
        "INSERT INTO kb_chunks (document_id, world_id, ordinal, heading, heading_path, body, embedding, tsv)"
        " VALUES ($1, $2, $3, $4, ARRAY[$4], $4, $5, to_tsvector('english', $4))",
        rows,
    )
    await isolated_kb.pool.execute("ANALYZE kb_chunks")
    schema = await isolated_kb.pool.fetchval("SELECT current_schema()")

    async def prefer_indexes(conn: asyncpg.Connection) -> None:
        await conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")

    pool = await create_pool(kb_dsn, schema=schema, min_size=1, max_size=1, setup=prefer_indexes)
    try:
        yield KnowledgeBase(pool, isolated_kb.embedder), query
    finally:
        await pool.close()


async def test_the_index_alone_answers_nothing_in_the_quiet_world(crowded: tuple[KnowledgeBase, np.ndarray]) -> None:
    kb, query = crowded
    async with kb.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL hnsw.ef_search = 100")
        plan = "\n".join(r[0] for r in await conn.fetch(
            "EXPLAIN SELECT id FROM kb_chunks WHERE world_id IS NULL OR world_id = $2"
            " ORDER BY embedding <=> $1 LIMIT 5", query, "quiet"))
        rows = await conn.fetch(
            "SELECT id FROM kb_chunks WHERE world_id IS NULL OR world_id = $2 ORDER BY embedding <=> $1 LIMIT 5",
            query,
            "quiet",
        )
    assert "kb_chunks_embedding_hnsw" in plan
    assert len(rows) < 5  # the defect the fallback exists for


@pytest.mark.parametrize("method", ["vector", "hybrid"])
async def test_a_filtered_search_returns_k_rows_while_k_exist_in_scope(
    crowded: tuple[KnowledgeBase, np.ndarray], method: str
) -> None:
    kb, query = crowded
    before = EXACT_FALLBACKS["count"]
    hits = await search(kb, "quiet lore", world="quiet", k=5, method=method, query_vector=query)  # type: ignore[arg-type]
    assert len(hits) == 5
    assert {hit.world for hit in hits} == {"quiet"}
    assert EXACT_FALLBACKS["count"] > before
    everything = await search(kb, "quiet lore", world="quiet", k=20, method="vector", query_vector=query)
    assert len(everything) == QUIET_CHUNKS  # fewer exist in scope: all of them, no more
    crowd = await search(kb, "crowd lore", world="crowd07", k=5, method="vector", query_vector=query)
    assert len(crowd) == 5 and {hit.world for hit in crowd} == {"crowd07"}
