"""Databases of a test's (or a benchmark run's) own on a PostgreSQL server, created and dropped."""

from __future__ import annotations

import contextlib
import uuid
from typing import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg


def with_database(server_dsn: str, name: str) -> str:
    """``server_dsn`` pointing at database ``name``."""
    return urlunsplit(urlsplit(server_dsn)._replace(path="/" + name))


async def create_database(server_dsn: str, prefix: str = "lw_test_", *, vector: bool = False) -> str:
    """Create a database with a fresh name on the server (pgvector in it with ``vector``); return its DSN."""
    name = prefix + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = with_database(server_dsn, name)
    if vector:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
        finally:
            await conn.close()
    return dsn


async def drop_database(server_dsn: str, dsn: str) -> None:
    """Drop the database ``dsn`` names, whoever is still connected to it."""
    name = urlsplit(dsn).path.lstrip("/")
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def fresh_database(server_dsn: str, prefix: str = "lw_test_", *, vector: bool = False) -> AsyncIterator[str]:
    """A database of the block's own (see :func:`create_database`), dropped afterwards."""
    dsn = await create_database(server_dsn, prefix, vector=vector)
    try:
        yield dsn
    finally:
        await drop_database(server_dsn, dsn)
