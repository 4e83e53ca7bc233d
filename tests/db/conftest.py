"""Databases and schemas for the persistence tests, on the session's PostgreSQL (``pg_server`` in tests/conftest.py).

The session gets a database of its own (dropped at the end) and each test a schema
of its own, so tests never see each other's rows, even on a shared server.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator

import asyncpg
import pytest

from loreweave.db import Journal, StateStore, create_pool, migrate
from loreweave.testing import fresh_database, with_database

@pytest.fixture
def scratch() -> Iterator[Path]:
    """A private temporary folder.

    Not pytest's ``tmp_path``: pytest sessions running at once under one user prune each
    other's numbered folders, and a server's data must not vanish under it.
    """
    folder = Path(tempfile.mkdtemp(prefix="lw-db-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def vector_error(pg_server: str) -> str | None:
    """Why pgvector cannot be used on the server under test, or None when it can."""
    conn = await asyncpg.connect(pg_server)
    try:
        available = await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
    finally:
        await conn.close()
    return None if available else "pgvector is not installed on the server under test"


@pytest.fixture(scope="session")
async def pg_dsn(pg_server: str, vector_error: str | None) -> AsyncIterator[str]:
    """A database of this session's own, with pgvector in its public schema when the server has it."""
    # In public, so the per-test schemas (and their drops) share one extension.
    async with fresh_database(pg_server, vector=vector_error is None) as dsn:
        yield dsn


@pytest.fixture
def needs_vector(vector_error: str | None) -> None:
    """Skip a test that needs pgvector when the configured server lacks it."""
    if vector_error is not None:
        pytest.skip(vector_error)


@pytest.fixture
async def schema(pg_dsn: str) -> AsyncIterator[str]:
    """A schema no other test uses, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{name}"')
        yield name
        await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def conn(pg_dsn: str, schema: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection whose unqualified names resolve in the test's schema."""
    connection = await asyncpg.connect(pg_dsn, server_settings={"search_path": f'"{schema}", public'})
    yield connection
    await connection.close()


@pytest.fixture
async def pool(pg_dsn: str, schema: str, needs_vector: None) -> AsyncIterator[asyncpg.Pool]:
    """A migrated schema and a pool on it (pgvector codec registered)."""
    await migrate(pg_dsn, schema=schema)
    created = await create_pool(pg_dsn, schema=schema, min_size=1, max_size=4)
    yield created
    await created.close()


@pytest.fixture
def store(pool: asyncpg.Pool) -> StateStore:
    """The state store on the test's schema."""
    return StateStore(pool)


@pytest.fixture
def journal(pool: asyncpg.Pool) -> Journal:
    """The journal on the test's schema."""
    return Journal(pool)
