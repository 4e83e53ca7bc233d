"""Versioned SQL migrations: ``NNNN_name.sql`` files applied in order, each in its own transaction.

Applied files are recorded in ``loreweave_schema_migrations`` (version, name, sha256
checksum, applied_at) in the current schema. The runner holds a PostgreSQL advisory
lock while it works, so two processes migrating at once are safe: the second waits,
then finds nothing left to do. A file whose content changed after it was applied is
refused by name: write a new migration instead of editing an old one.

Files are applied by version number; one numbered below an already applied file
(two branches that each added a migration) is still applied, in version order.
A migration must not contain transaction control (``BEGIN``/``COMMIT``) or
statements that cannot run in a transaction (``CREATE INDEX CONCURRENTLY``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal, Sequence

import asyncpg

from loreweave.db.connect import DEFAULT_CONNECT_TIMEOUT, connect
from loreweave.db.errors import MigrationError

#: Table (in the current schema) that records applied migrations.
MIGRATIONS_TABLE = "loreweave_schema_migrations"
#: Seconds to wait for another process's migration run before giving up.
DEFAULT_LOCK_TIMEOUT = 120.0

_FILE_NAME = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")
# One lock per schema: migrating two schemas of a database need not wait for each other.
_LOCK_KEY = "hashtextextended('loreweave.migrations:' || coalesce(current_schema(), ''), 0)"

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version    integer     PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file.

    Attributes:
        version: the file's number (``0004`` → 4).
        name: the rest of the file name (``event_journal``).
        filename: the file's name (``0004_event_journal.sql``).
        sql: the statements.
        checksum: sha256 of the file's bytes, hex.
    """

    version: int
    name: str
    filename: str
    sql: str = field(repr=False)
    checksum: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class MigrationState:
    """Where one migration stands in a database.

    ``status`` is ``applied``, ``pending`` (file not applied yet), ``changed`` (applied,
    but the file differs now) or ``missing`` (applied, but no such file here).
    """

    version: int
    name: str
    status: Literal["applied", "pending", "changed", "missing"]
    applied_at: datetime | None


def default_directory() -> Traversable:
    """The package's migration folder, ``loreweave/schemas/sql``."""
    return resources.files("loreweave.schemas").joinpath("sql")


def discover_migrations(directory: Path | Traversable | None = None) -> list[Migration]:
    """Read every ``NNNN_name.sql`` file of ``directory`` (default: the package's), sorted by version.

    Raises:
        MigrationError: a ``.sql`` file is named otherwise, or two files share a version.
    """
    folder = default_directory() if directory is None else directory
    found: dict[int, Migration] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql") or entry.name.startswith("."):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(
                entry.name, "a migration file must be named NNNN_name.sql (4 digits, letters, digits or _)"
            )
        data = entry.read_bytes()
        migration = Migration(
            version=int(match.group(1)),
            name=match.group(2),
            filename=entry.name,
            sql=data.decode("utf-8"),
            checksum=hashlib.sha256(data).hexdigest(),
        )
        if migration.version in found:
            raise MigrationError(
                entry.name, f"has the same version as {found[migration.version].filename}"
            )
        found[migration.version] = migration
    return [found[version] for version in sorted(found)]


async def _applied(conn: asyncpg.Connection) -> dict[int, asyncpg.Record]:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", MIGRATIONS_TABLE)
    if not exists:
        return {}
    rows = await conn.fetch(f"SELECT version, name, checksum, applied_at FROM {MIGRATIONS_TABLE}")
    return {row["version"]: row for row in rows}


def _refuse_changed(migrations: Sequence[Migration], applied: dict[int, asyncpg.Record]) -> None:
    for migration in migrations:
        row = applied.get(migration.version)
        if row is not None and row["checksum"] != migration.checksum:
            raise MigrationError(
                migration.filename,
                f"was changed after it was applied on {row['applied_at']:%Y-%m-%d %H:%M:%S%z}"
                f" (sha256 {row['checksum'][:12]}…, now {migration.checksum[:12]}…):"
                " restore it and put the change in a new migration",
            )


class _MigrationLock:
    """The per-schema advisory lock, held for a whole migration run."""

    def __init__(self, conn: asyncpg.Connection, timeout: float) -> None:
        self.conn = conn
        self.timeout = timeout

    async def __aenter__(self) -> None:
        try:
            await self.conn.execute(f"SELECT pg_advisory_lock({_LOCK_KEY})", timeout=self.timeout)
        except TimeoutError:
            raise MigrationError(
                "migrations", f"another process held the migration lock for more than {self.timeout:g}s"
            ) from None

    async def __aexit__(self, *exc_info: object) -> None:
        if not self.conn.is_closed():
            await self.conn.execute(f"SELECT pg_advisory_unlock({_LOCK_KEY})")


def _failure(migration: Migration, exc: asyncpg.PostgresError) -> MigrationError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    position = getattr(exc, "position", None)
    if position:
        line = migration.sql[: int(position)].count("\n") + 1
        reason = f"{reason} (line {line})"
    hint = getattr(exc, "hint", None)
    if hint:
        reason = f"{reason}; hint: {hint}"
    return MigrationError(migration.filename, f"failed and was rolled back: {reason}")


async def apply_migrations(
    conn: asyncpg.Connection,
    migrations: Sequence[Migration] | None = None,
    *,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> list[Migration]:
    """Apply the migrations not yet recorded, in version order; return those applied now.

    Each file runs in its own transaction together with its record, so a failing file
    leaves neither its changes nor a record behind, and the ones before it stay applied.

    Args:
        conn: a connection outside any transaction; its current schema is migrated.
        migrations: what to apply (default: :func:`discover_migrations`).
        lock_timeout: seconds to wait for a concurrent run to finish.

    Raises:
        MigrationError: an applied file changed (nothing is applied then), a file failed,
            or the lock was not obtained in time.
    """
    wanted = discover_migrations() if migrations is None else sorted(migrations, key=lambda m: m.version)
    async with _MigrationLock(conn, lock_timeout):
        await conn.execute(_CREATE_TABLE)
        applied = await _applied(conn)
        _refuse_changed(wanted, applied)
        done: list[Migration] = []
        for migration in wanted:
            if migration.version in applied:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
            except asyncpg.PostgresError as exc:
                raise _failure(migration, exc) from None
            done.append(migration)
        return done


async def migration_status(
    conn: asyncpg.Connection, migrations: Sequence[Migration] | None = None
) -> list[MigrationState]:
    """Compare the migration files with what the database recorded, by version."""
    wanted = {m.version: m for m in (discover_migrations() if migrations is None else migrations)}
    applied = await _applied(conn)
    states = []
    for version in sorted({*wanted, *applied}):
        migration, row = wanted.get(version), applied.get(version)
        if row is None:
            assert migration is not None
            states.append(MigrationState(version, migration.name, "pending", None))
        elif migration is None:
            states.append(MigrationState(version, row["name"], "missing", row["applied_at"]))
        else:
            status: Literal["applied", "changed"] = (
                "applied" if row["checksum"] == migration.checksum else "changed"
            )
            states.append(MigrationState(version, migration.name, status, row["applied_at"]))
    return states


async def migrate(
    dsn: str,
    *,
    schema: str | None = None,
    directory: Path | Traversable | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
) -> list[Migration]:
    """Connect to ``dsn``, apply pending migrations (from ``directory``, default the package's), disconnect.

    Raises:
        DatabaseError: the server cannot be reached.
        MigrationError: see :func:`apply_migrations`.
    """
    migrations = discover_migrations(directory)
    conn = await connect(dsn, timeout=timeout, schema=schema)
    try:
        return await apply_migrations(conn, migrations, lock_timeout=lock_timeout)
    finally:
        await conn.close()

