"""One handle on the world's database: the pool, the state store and the journal, migrated on open."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, AsyncIterator, Sequence

import asyncpg

from loreweave.db.connect import DEFAULT_CONNECT_TIMEOUT, connect, create_pool
from loreweave.db.journal import Journal, JournalEntry
from loreweave.db.migrations import Migration, MigrationState, apply_migrations, migration_status
from loreweave.db.state import StateStore
from loreweave.embedded.postgres import database_dsn
from loreweave.protocol.subjects import check_world

if TYPE_CHECKING:
    from loreweave.config import Settings

logger = logging.getLogger(__name__)
#: How long :meth:`Database.close` waits for connections still in use before it closes them.
CLOSE_TIMEOUT_S = 30.0


@dataclass(slots=True)
class Database:
    """The pool with the pgvector codec, plus the stores built on it."""

    pool: asyncpg.Pool
    state: StateStore
    journal: Journal

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        migrate: bool = True,
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = DEFAULT_CONNECT_TIMEOUT,
    ) -> Database:
        """Apply pending migrations (unless ``migrate=False``), then open the pool.

        Raises:
            DatabaseError: the server cannot be reached, or pgvector is not installed.
            MigrationError: a migration was changed after being applied, or failed.
        """
        if migrate:
            conn = await connect(dsn, timeout=timeout, schema=schema)
            try:
                await apply_migrations(conn)
            finally:
                await conn.close()
        pool = await create_pool(dsn, min_size=min_size, max_size=max_size, timeout=timeout, schema=schema)
        return cls(pool=pool, state=StateStore(pool), journal=Journal(pool))

    async def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Close the pool's connections: wait up to ``timeout_s`` for those in use, then terminate them.

        A connection that is never given back (a task still running on it) cannot keep a
        stopping process from ending: asyncpg's own ``close`` would wait for it forever.
        """
        try:
            await asyncio.wait_for(self.pool.close(), timeout_s)
        except asyncio.TimeoutError:
            logger.warning("database: connections still in use %gs after closing began; terminating them", timeout_s)
            self.pool.terminate()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Database]:
    """The configured database (or an embedded one) for the block, migrated and pooled."""
    async with database_dsn(settings) as dsn:
        async with await Database.open(dsn, migrate=migrate, max_size=settings.database_pool_size) as database:
            yield database


async def migrate_database(settings: Settings) -> list[Migration]:
    """``loreweave db migrate``: apply pending migrations to the configured database; return them."""
    async with database_dsn(settings) as dsn:
        conn = await connect(dsn)
        try:
            return await apply_migrations(conn)
        finally:
            await conn.close()


async def database_status(settings: Settings) -> list[MigrationState]:
    """``loreweave db status``: every migration, applied or not."""
    async with database_dsn(settings) as dsn:
        conn = await connect(dsn)
        try:
            return await migration_status(conn)
        finally:
            await conn.close()


async def journal_history(
    settings: Settings,
    world: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    types: Sequence[str] | None = None,
    correlation_id: str | None = None,
    limit: int = 50,
) -> list[JournalEntry]:
    """``loreweave history``: journaled frames of a world; without ``since``, the latest ``limit``."""
    check_world(world)
    async with database_dsn(settings) as dsn:
        conn = await connect(dsn)
        try:
            return await Journal(conn).query(
                world,
                since=since,
                until=until,
                types=types,
                correlation_id=correlation_id,
                limit=limit,
                latest=since is None,
            )
        finally:
            await conn.close()
