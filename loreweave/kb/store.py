"""The knowledge-base handle every kb function takes: a database pool and an embedder."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg

from loreweave.kb.embed import Embedder, default_embedder

if TYPE_CHECKING:
    from loreweave.config import Settings


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """What the knowledge base needs to work: an asyncpg pool (pgvector codec registered,
    migrations applied) and an embedder (by default the process-wide one)."""

    pool: asyncpg.Pool
    embedder: Embedder = field(default_factory=default_embedder)


@contextlib.asynccontextmanager
async def open_knowledge_base(settings: Settings) -> AsyncIterator[KnowledgeBase]:
    """The configured database (or the embedded one), migrated, as a knowledge base for the block."""
    from loreweave.db import open_database

    async with open_database(settings) as database:
        yield KnowledgeBase(database.pool)
