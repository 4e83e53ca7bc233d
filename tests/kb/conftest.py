"""Knowledge-base fixtures: a real PostgreSQL + pgvector, the real embedding model
(loaded once per session) and the sample world ingested once per session.

The session gets a database of its own (dropped at the end); tests write into worlds
of their own (the ``world`` fixture), and tests that need global lore of their own
get a schema of their own (``isolated_kb``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from loreweave.db import create_pool, migrate
from loreweave.kb import Embedder, KnowledgeBase, default_embedder, ingest_sample_worlds
from loreweave.testing import fresh_database

SAMPLE_WORLD = "thornwake"
SAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "worlds" / SAMPLE_WORLD


@pytest.fixture(scope="session")
async def kb_dsn(pg_server: str) -> AsyncIterator[str]:
    """A migrated database of this session's own, pgvector in its public schema."""
    async with fresh_database(pg_server, "lw_kb_", vector=True) as dsn:
        await migrate(dsn)
        yield dsn


@pytest.fixture(scope="session")
async def embedder() -> Embedder:
    """The process-wide embedder, its model loaded once for the whole session."""
    shared = default_embedder()
    await shared.warm_up()
    return shared


@pytest.fixture(scope="session")
async def kb(kb_dsn: str, embedder: Embedder) -> AsyncIterator[KnowledgeBase]:
    """The session's knowledge base (public schema of the session database)."""
    pool = await create_pool(kb_dsn, min_size=1, max_size=4)
    yield KnowledgeBase(pool, embedder)
    await pool.close()


@pytest.fixture(scope="session")
async def sample_kb(kb: KnowledgeBase) -> KnowledgeBase:
    """The knowledge base with the sample worlds ingested (once per session)."""
    await ingest_sample_worlds(kb)
    return kb


@pytest.fixture
async def isolated_kb(kb_dsn: str, embedder: Embedder) -> AsyncIterator[KnowledgeBase]:
    """A knowledge base in a schema of this test's own (for tests that add global lore)."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(kb_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    await migrate(kb_dsn, schema=schema)
    pool = await create_pool(kb_dsn, schema=schema, min_size=1, max_size=2)
    try:
        yield KnowledgeBase(pool, embedder)
    finally:
        await pool.close()
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
def lore_dir(tmp_path: Path) -> Path:
    """A folder with three small lore files (two Markdown, one text) and a non-lore file."""
    folder = tmp_path / "lore"
    folder.mkdir()
    (folder / "moons.md").write_text(
        "# The Moons\n\n## Pallid\n\nPallid is the white moon; it rises every ninth night over the Glimmer Sea.\n\n"
        "## Rust\n\nRust is the red moon, sacred to the smiths of Karsk, who forge only while it is full.\n",
        encoding="utf-8",
    )
    (folder / "tavern.md").write_text(
        "# The Sleeping Ox\n\nThe Sleeping Ox is a tavern in Karsk kept by a one-eyed woman named Brenna Coil. "
        "Its specialty is black pepper stew.\n",
        encoding="utf-8",
    )
    (folder / "rumours.txt").write_text(
        "Sailors whisper that a drowned bell rings under the Glimmer Sea whenever a queen dies.\n",
        encoding="utf-8",
    )
    (folder / "map.yaml").write_text("not: lore\n", encoding="utf-8")
    return folder
