"""The pgvector codec on pooled connections."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np


async def test_vectors_read_as_numpy_and_accept_lists_and_arrays(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE memories (id int PRIMARY KEY, embedding vector(3))")
        await conn.execute("INSERT INTO memories VALUES (1, $1)", [1.0, 0.0, 0.0])
        await conn.execute("INSERT INTO memories VALUES (2, $1)", np.array([0.0, 1.0, 0.0], dtype=np.float32))

        value = await conn.fetchval("SELECT embedding FROM memories WHERE id = 1")
        nearest = await conn.fetchval("SELECT id FROM memories ORDER BY embedding <-> $1 LIMIT 1", [0.1, 0.9, 0.0])

    assert isinstance(value, np.ndarray) and value.dtype == np.float32
    assert value.tolist() == [1.0, 0.0, 0.0]
    assert nearest == 2


async def test_every_pooled_connection_has_the_codec(pool: asyncpg.Pool) -> None:
    async def read() -> object:
        async with pool.acquire() as conn:
            await asyncio.sleep(0.05)  # keep it busy so the pool opens the others
            return await conn.fetchval("SELECT '[1,2,3]'::vector")

    values = await asyncio.gather(*(read() for _ in range(pool.get_max_size())))
    assert all(isinstance(v, np.ndarray) and v.tolist() == [1, 2, 3] for v in values)
