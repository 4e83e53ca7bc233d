"""The one-handle API the runtime uses: open (migrating), use the stores, reopen without loss."""

from __future__ import annotations

import asyncio

import asyncpg
import numpy as np
import pytest

from loreweave.config import load_settings
from loreweave.protocol.errors import ConfigError
from loreweave.db import Database, JournalEntry, claim_frame, open_database
from loreweave.protocol.frame import Frame


async def test_open_migrates_and_state_survives_a_reopen(fresh_dsn: str, needs_vector: None) -> None:
    settings = load_settings({"LOREWEAVE_DATABASE_URL": fresh_dsn})
    frame = Frame(type="weather.changed", world="w1", payload={"sky": "rain"}, source="weather")

    async with open_database(settings) as database:
        async with database.state.transaction() as conn:
            assert await claim_frame(conn, "weather", frame.id)
            await database.state.save_snapshot("weather", b"rain", 7, conn=conn)
            await database.journal.append(frame, conn=conn)
        assert isinstance(await database.pool.fetchval("SELECT '[1,2]'::vector"), np.ndarray)

    async with await Database.open(fresh_dsn) as reopened:
        snapshot = await reopened.state.load_snapshot("weather")
        assert snapshot is not None and (snapshot.state, snapshot.stream_seq) == (b"rain", 7)
        assert await reopened.state.is_processed("weather", frame.id)
        assert await reopened.journal.get(frame.id) == JournalEntry.from_frame(frame)


async def test_the_pool_holds_as_many_connections_as_configured(fresh_dsn: str, needs_vector: None) -> None:
    settings = load_settings({"LOREWEAVE_DATABASE_URL": fresh_dsn, "LOREWEAVE_DATABASE_POOL_SIZE": "3"})
    async with open_database(settings) as database:
        assert database.pool.get_max_size() == 3
    with pytest.raises(ConfigError) as refused:
        load_settings({"LOREWEAVE_DATABASE_POOL_SIZE": "1"})
    assert "LOREWEAVE_DATABASE_POOL_SIZE" in str(refused.value)


async def test_closing_ends_even_when_a_connection_is_never_given_back(fresh_dsn: str, needs_vector: None) -> None:
    database = await Database.open(fresh_dsn)
    held = await database.pool.acquire()  # a task that never releases it
    await asyncio.wait_for(database.close(timeout_s=0.5), 10)  # asyncpg's close alone waits forever
    with pytest.raises(asyncpg.InterfaceError):
        await held.fetchval("SELECT 1")
