"""Migrations: order, records, idempotence, refusal of edited files, failure rollback, concurrency."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import asyncpg
import pytest

from loreweave.db import (
    MIGRATIONS_TABLE,
    MigrationError,
    apply_migrations,
    discover_migrations,
    migrate,
    migration_status,
)
from loreweave.db.migrations import default_directory

CORE = {
    1: "extension_vector",
    2: "actor_snapshots",
    3: "processed_frames",
    4: "event_journal",
    5: "payment_ledger",
    6: "quest_state",
}


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (folder / name).write_text(sql)
    return folder


async def recorded(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT version, name, checksum, applied_at FROM {MIGRATIONS_TABLE} ORDER BY version")


def test_package_folder_holds_the_core_migrations_in_order() -> None:
    migrations = discover_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))
    assert {m.version: m.name for m in migrations if m.version in CORE} == CORE
    on_disk = {p.name for p in Path(str(default_directory())).glob("[0-9][0-9][0-9][0-9]_*.sql")}
    assert {m.filename for m in migrations} == on_disk


async def test_migrate_applies_every_file_in_order_and_records_it(
    conn: asyncpg.Connection, schema: str, needs_vector: None
) -> None:
    applied = await apply_migrations(conn)

    files = discover_migrations()
    assert [m.version for m in applied] == [m.version for m in files]
    rows = await recorded(conn)
    assert [(r["version"], r["name"]) for r in rows] == [(m.version, m.name) for m in files]
    for row, migration in zip(rows, files, strict=True):
        path = Path(str(default_directory())) / migration.filename
        assert row["checksum"] == hashlib.sha256(path.read_bytes()).hexdigest()
    times = [r["applied_at"] for r in rows]
    assert times == sorted(times)
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
    )
    assert {"actor_snapshots", "processed_frames", "event_journal", "purchase_intents",
            "entitlements", "refunds", "quest_state", MIGRATIONS_TABLE} <= {t["table_name"] for t in tables}


async def test_second_run_applies_nothing(conn: asyncpg.Connection, needs_vector: None) -> None:
    first = await apply_migrations(conn)
    before = await recorded(conn)

    assert first
    assert await apply_migrations(conn) == []
    assert await recorded(conn) == before


async def test_files_apply_by_version_whatever_the_order_they_are_found_in(
    conn: asyncpg.Connection, scratch: Path
) -> None:
    folder = write(scratch / "sql", {
        "0010_kb_notes.sql": "ALTER TABLE things ADD COLUMN note text; INSERT INTO log VALUES ('0010');",
        "0002_things.sql": "CREATE TABLE things (id int); INSERT INTO log VALUES ('0002');",
        "0001_log.sql": "CREATE TABLE log (step text, at timestamptz DEFAULT clock_timestamp());",
        "README.md": "not a migration",
    })

    applied = await apply_migrations(conn, discover_migrations(folder))

    assert [m.filename for m in applied] == ["0001_log.sql", "0002_things.sql", "0010_kb_notes.sql"]
    assert [r["step"] for r in await conn.fetch("SELECT step FROM log ORDER BY at")] == ["0002", "0010"]
    # A file numbered below one already applied (another branch's) is applied too.
    write(folder, {"0005_late.sql": "INSERT INTO log VALUES ('0005');"})
    assert [m.version for m in await apply_migrations(conn, discover_migrations(folder))] == [5]


async def test_an_applied_file_that_changed_is_refused_by_name(conn: asyncpg.Connection, scratch: Path) -> None:
    folder = write(scratch / "sql", {"0001_things.sql": "CREATE TABLE things (id int);"})
    await apply_migrations(conn, discover_migrations(folder))
    write(folder, {
        "0001_things.sql": "CREATE TABLE things (id bigint);",
        "0002_more.sql": "CREATE TABLE more (id int);",
    })

    with pytest.raises(MigrationError) as caught:
        await apply_migrations(conn, discover_migrations(folder))

    assert caught.value.field == "0001_things.sql"
    assert "changed after it was applied" in caught.value.reason
    assert await conn.fetchval("SELECT to_regclass('more')") is None, "nothing is applied after a refusal"
    states = await migration_status(conn, discover_migrations(folder))
    assert [(s.version, s.status) for s in states] == [(1, "changed"), (2, "pending")]


async def test_a_failing_file_is_rolled_back_and_names_itself(conn: asyncpg.Connection, scratch: Path) -> None:
    folder = write(scratch / "sql", {
        "0001_ok.sql": "CREATE TABLE ok (id int);",
        "0002_broken.sql": "CREATE TABLE half (id int);\nSELECT no_such_function();",
        "0003_after.sql": "CREATE TABLE after (id int);",
    })

    with pytest.raises(MigrationError) as caught:
        await apply_migrations(conn, discover_migrations(folder))

    assert caught.value.field == "0002_broken.sql"
    assert "no_such_function" in caught.value.reason and "(line 2)" in caught.value.reason
    assert [r["version"] for r in await recorded(conn)] == [1]
    assert await conn.fetchval("SELECT to_regclass('half')") is None
    assert await conn.fetchval("SELECT to_regclass('after')") is None


@pytest.mark.parametrize(
    ("files", "culprit"),
    [
        ({"1_short.sql": "SELECT 1;"}, "1_short.sql"),
        ({"0001-dash.sql": "SELECT 1;"}, "0001-dash.sql"),
        ({"0001_a.sql": "SELECT 1;", "0001_b.sql": "SELECT 1;"}, "0001_b.sql"),
    ],
)
def test_badly_named_or_duplicate_files_are_refused(scratch: Path, files: dict[str, str], culprit: str) -> None:
    folder = write(scratch / "sql", files)
    with pytest.raises(MigrationError) as caught:
        discover_migrations(folder)
    assert caught.value.field == culprit


async def test_concurrent_runs_apply_each_file_once(pg_dsn: str, schema: str, scratch: Path) -> None:
    folder = write(scratch / "sql", {
        "0001_counter.sql": "CREATE TABLE counter (n int);",
        # Slow enough that the runs overlap: without the lock, the table would be created
        # three times (an error) and the row inserted three times.
        "0002_slow.sql": "SELECT pg_sleep(0.3); INSERT INTO counter VALUES (1);",
    })

    results = await asyncio.gather(*(migrate(pg_dsn, schema=schema, directory=folder) for _ in range(3)))

    assert sorted(len(applied) for applied in results) == [0, 0, 2]
    check = await asyncpg.connect(pg_dsn, server_settings={"search_path": schema})
    try:
        assert await check.fetchval("SELECT count(*) FROM counter") == 1
        assert await check.fetchval(f"SELECT count(*) FROM {MIGRATIONS_TABLE}") == 2
    finally:
        await check.close()


async def test_waiting_for_the_lock_is_bounded(pg_dsn: str, schema: str, conn: asyncpg.Connection, scratch: Path) -> None:
    folder = write(scratch / "sql", {"0001_x.sql": "CREATE TABLE x (id int);"})
    await conn.execute(
        "SELECT pg_advisory_lock(hashtextextended('loreweave.migrations:' || current_schema(), 0))"
    )
    other = await asyncpg.connect(pg_dsn, server_settings={"search_path": schema})
    try:
        with pytest.raises(MigrationError) as caught:
            await apply_migrations(other, discover_migrations(folder), lock_timeout=0.3)
        assert "lock" in caught.value.reason
        assert await other.fetchval("SELECT to_regclass('x')") is None
    finally:
        await other.close()


async def test_status_lists_applied_pending_and_missing(conn: asyncpg.Connection, scratch: Path) -> None:
    folder = write(scratch / "sql", {"0001_a.sql": "SELECT 1;", "0002_b.sql": "SELECT 1;"})
    assert [s.status for s in await migration_status(conn, discover_migrations(folder))] == ["pending"] * 2

    await apply_migrations(conn, discover_migrations(folder))
    (folder / "0002_b.sql").unlink()
    write(folder, {"0003_c.sql": "SELECT 1;"})

    states = await migration_status(conn, discover_migrations(folder))
    assert [(s.version, s.name, s.status) for s in states] == [
        (1, "a", "applied"), (2, "b", "missing"), (3, "c", "pending")
    ]
    assert states[0].applied_at is not None and states[2].applied_at is None


async def test_missing_pgvector_is_reported_on_the_first_migration(
    conn: asyncpg.Connection, vector_error: str | None
) -> None:
    if vector_error is None:
        pytest.skip("the server under test has pgvector")
    with pytest.raises(MigrationError) as caught:
        await apply_migrations(conn)
    assert caught.value.field == "0001_extension_vector.sql"
    assert "vector" in caught.value.reason
