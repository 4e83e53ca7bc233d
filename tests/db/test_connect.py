"""Connecting: typed one-line errors for bad URLs and unusable servers; the embedded server's life."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import asyncpg
import psutil
import pytest

from loreweave.config import load_settings
from loreweave.db import DatabaseError, connect, create_pool, describe_target
from loreweave.embedded.postgres import EmbeddedPostgres, database_dsn
from loreweave.protocol.errors import LoreweaveError
from loreweave.testing import with_database


@pytest.mark.parametrize(
    "dsn",
    [
        "",
        "not a url",
        "http://127.0.0.1:5432/db",
        "postgresql://user@127.0.0.1:notaport/db",
        "postgresql://user@127.0.0.1:99999/db",
    ],
)
@pytest.mark.parametrize("opener", [connect, create_pool])
async def test_a_bad_url_is_a_typed_error(dsn: str, opener: object) -> None:
    with pytest.raises(DatabaseError) as caught:
        await opener(dsn)  # type: ignore[operator]
    assert isinstance(caught.value, LoreweaveError)
    assert caught.value.field == "LOREWEAVE_DATABASE_URL"
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("opener", [connect, create_pool])
async def test_a_refusing_server_is_a_typed_error(opener: object) -> None:
    with pytest.raises(DatabaseError) as caught:
        await opener("postgresql://loreweave:secret@127.0.0.1:1/world", timeout=2)  # type: ignore[operator]
    assert caught.value.field == "LOREWEAVE_DATABASE_URL"
    assert caught.value.reason == "cannot connect to 127.0.0.1:1: connection refused"
    assert "secret" not in str(caught.value)


async def test_a_silent_server_times_out_within_the_bound() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accept and never answer

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseError) as caught:
            await connect(f"postgresql://u@127.0.0.1:{port}/db", timeout=0.5)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert time.monotonic() - started < 3
    assert caught.value.reason == f"cannot connect to 127.0.0.1:{port}: no answer within 0.5s"


async def test_a_missing_database_is_named(pg_server: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        await connect(with_database(pg_server, "no_such_db_here"), timeout=5)
    assert 'database "no_such_db_here" does not exist' in caught.value.reason


async def test_a_pool_needs_pgvector_installed_first(fresh_dsn: str) -> None:
    with pytest.raises(DatabaseError) as caught:
        await create_pool(fresh_dsn)
    assert "vector" in caught.value.reason and "migrate" in caught.value.reason


def test_targets_are_described_without_secrets() -> None:
    assert describe_target("postgresql://u:pw@db.example:6543/x") == "db.example:6543"
    assert describe_target("postgresql://u@[::1]/x") == "[::1]:5432"
    assert describe_target("postgresql://u@a:1,b:2/x") == "a:1, b:2"
    assert describe_target("postgresql://postgres:@/postgres?host=/tmp/pg") == "socket /tmp/pg/.s.PGSQL.5432"


async def test_a_configured_url_is_used_as_is(scratch: Path) -> None:
    settings = load_settings({"LOREWEAVE_DATABASE_URL": "postgresql://u@db:5432/w", "LOREWEAVE_DATA_DIR": str(scratch)})
    async with database_dsn(settings) as dsn:
        assert dsn == "postgresql://u@db:5432/w"
    assert not (scratch / "postgres").exists()


@pytest.mark.slow
async def test_embedded_server_has_pgvector_keeps_data_and_stops(scratch: Path) -> None:
    # An empty URL means "not configured", whatever the environment running the tests says.
    settings = load_settings({"LOREWEAVE_DATA_DIR": str(scratch / "data"), "LOREWEAVE_DATABASE_URL": ""})
    pgdata = settings.data_dir / "postgres"
    async with database_dsn(settings) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            assert await conn.fetchval("SELECT '[1,2]'::vector <-> '[1,3]'::vector") == 1.0
            assert (await conn.fetchval("SHOW server_version")).startswith("16.")
            await conn.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
        finally:
            await conn.close()
        server_pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
        assert psutil.pid_exists(server_pid)
    assert not (pgdata / "postmaster.pid").exists()
    assert not psutil.pid_exists(server_pid) or psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE

    async with database_dsn(settings) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT v FROM kept") == "still here"
        finally:
            await conn.close()


KILLED_HOLDER = """
import asyncio, os, sys
from pathlib import Path
from loreweave.embedded.postgres import EmbeddedPostgres

async def main():
    await EmbeddedPostgres(Path(sys.argv[1])).start()
    os._exit(0)  # dies like SIGKILL: no atexit, no stop

asyncio.run(main())
"""


@pytest.mark.slow
async def test_a_server_left_by_a_killed_process_is_stopped_by_the_next_one(scratch: Path) -> None:
    pgdata = scratch / "postgres"
    holder = await asyncio.create_subprocess_exec(sys.executable, "-c", KILLED_HOLDER, str(pgdata))
    assert await holder.wait() == 0
    orphan = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    assert psutil.pid_exists(orphan), "the killed process left its server running"

    try:
        server = EmbeddedPostgres(pgdata)
        await server.start()
        assert server.pid == orphan, "the next process attaches to it"
        await server.stop()

        assert not (pgdata / "postmaster.pid").exists()
    finally:
        if psutil.pid_exists(orphan):  # do not leave it behind when the test fails
            psutil.Process(orphan).terminate()
