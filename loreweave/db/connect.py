"""Connections and pools to PostgreSQL, with one clear typed error when the server cannot be used.

Every pooled connection gets pgvector's asyncpg codec, so ``vector`` columns read
back as numpy arrays and accept lists or arrays as parameters.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg
from pgvector.asyncpg import register_vector

from loreweave.db.errors import DATABASE_URL_FIELD, DatabaseError

#: Seconds a connection attempt (TCP, TLS, authentication) may take before it is refused.
DEFAULT_CONNECT_TIMEOUT = 10.0
_SCHEMES = ("postgresql", "postgres")


def _hosts(dsn: str) -> list[tuple[str, str]]:
    """The ``(host, port)`` pairs a DSN names, ports as written (checked by :func:`check_dsn`)."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    default_port = (query.get("port") or ["5432"])[0]
    if query.get("host"):
        return [(host, default_port) for host in query["host"][0].split(",")]
    hosts = []
    netloc = parts.netloc.rpartition("@")[2]
    for item in netloc.split(",") if netloc else []:
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = item.partition(":")
        hosts.append((unquote(host) or "localhost", port or default_port))
    return hosts or [("localhost", default_port)]


def describe_target(dsn: str) -> str:
    """Where a DSN points, for messages: ``host:port`` or ``socket DIR/.s.PGSQL.PORT``; never the password."""
    described = []
    for host, port in _hosts(dsn):
        if host.startswith("/"):
            described.append(f"socket {host.rstrip('/')}/.s.PGSQL.{port}")
        else:
            described.append(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")
    return ", ".join(described)


def check_dsn(dsn: str) -> str:
    """Return ``dsn`` if it looks like a PostgreSQL URL asyncpg can use, else raise :class:`DatabaseError`."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise DatabaseError(DATABASE_URL_FIELD, "is empty")
    scheme, separator, _ = dsn.partition("://")
    if not separator or scheme.lower() not in _SCHEMES:
        raise DatabaseError(
            DATABASE_URL_FIELD,
            "is not a PostgreSQL URL (expected postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE)",
        )
    for _, port in _hosts(dsn):
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise DatabaseError(DATABASE_URL_FIELD, f"is not a valid PostgreSQL URL: port {port!r} is not a port number")
    return dsn


def _connect_reason(exc: BaseException, timeout: float) -> str:
    """A short, user-facing reason for a failed connection attempt."""
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError since Python 3.11
        return f"no answer within {timeout:g}s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return "host not found"
    if isinstance(exc, FileNotFoundError):
        return "no server socket there"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return "password authentication failed"
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError):
        return (exc.strerror or str(exc) or type(exc).__name__).lower()
    if isinstance(exc, (asyncpg.InterfaceError, ConnectionError)):
        return f"connection closed during start-up ({exc})"
    return f"{type(exc).__name__}: {exc}"


# What a failed connection attempt raises: bad parameters, the network, the server, the protocol.
_CONNECT_ERRORS = (ValueError, OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _connect_error(exc: BaseException, dsn: str, timeout: float) -> DatabaseError:
    if isinstance(exc, ValueError):  # asyncpg's ClientConfigurationError is one too
        return DatabaseError(DATABASE_URL_FIELD, f"is not a valid PostgreSQL URL: {exc}")
    return DatabaseError(
        DATABASE_URL_FIELD, f"cannot connect to {describe_target(dsn)}: {_connect_reason(exc, timeout)}"
    )


def _server_settings(schema: str | None) -> dict[str, str]:
    if schema is None:
        return {}
    # The schema comes first so unqualified tables land there; public keeps extensions visible.
    quoted = '"' + schema.replace('"', '""') + '"'
    return {"search_path": f"{quoted}, public"}


async def connect(
    dsn: str,
    *,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    schema: str | None = None,
) -> asyncpg.Connection:
    """Open one connection (no vector codec: the extension may not exist yet, as when migrating).

    Args:
        dsn: ``postgresql://`` URL.
        timeout: seconds the whole attempt may take.
        schema: if set, unqualified names resolve in this schema first (then ``public``).

    Raises:
        DatabaseError: field ``LOREWEAVE_DATABASE_URL``, e.g. "cannot connect to 127.0.0.1:1: connection refused".
    """
    check_dsn(dsn)
    try:
        return await asyncpg.connect(dsn, timeout=timeout, server_settings=_server_settings(schema))
    except _CONNECT_ERRORS as exc:
        raise _connect_error(exc, dsn, timeout) from None


async def vector_schema(conn: asyncpg.Connection) -> str | None:
    """The schema the ``vector`` extension is installed in, or None when it is not installed."""
    result: str | None = await conn.fetchval(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'vector'"
    )
    return result


async def init_connection(conn: asyncpg.Connection) -> None:
    """Pool ``init``: register pgvector's codec (numpy out, lists or arrays in) on a new connection.

    Raises:
        DatabaseError: when the ``vector`` extension is not installed (run the migrations first).
    """
    schema = await vector_schema(conn)
    if schema is None:
        raise DatabaseError(
            DATABASE_URL_FIELD,
            'the "vector" extension is not installed in this database: run `loreweave db migrate` first',
        )
    await register_vector(conn, schema=schema)


async def _no_session_reset(conn: asyncpg.Connection) -> None:
    """What a pooled connection needs when it is given back: nothing beyond asyncpg's rollback.

    asyncpg's default runs ``RESET ALL; UNLISTEN *; CLOSE ALL; pg_advisory_unlock_all()`` on every
    release, one more round trip per use; Loreweave keeps no session state on pooled connections
    (``SET LOCAL``, transaction-scoped advisory locks), so it is skipped. Pass ``reset=None`` to
    :func:`create_pool` to have it back.
    """


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
    schema: str | None = None,
    command_timeout: float | None = None,
    **pool_options: Any,
) -> asyncpg.Pool:
    """Create an asyncpg pool whose connections all carry the pgvector codec.

    The first ``min_size`` connections are opened now, so a bad DSN or a server that
    is down fails here with one clear error rather than at the first query.

    Args:
        dsn: ``postgresql://`` URL.
        min_size: connections opened at once and kept.
        max_size: most connections open at a time.
        timeout: seconds one connection attempt may take.
        schema: if set, unqualified names resolve in this schema first (then ``public``).
        command_timeout: default seconds a statement may run (None: no limit).
        pool_options: other :func:`asyncpg.create_pool` arguments.

    Raises:
        DatabaseError: the server cannot be reached or refused us, or pgvector is not installed.
    """
    check_dsn(dsn)
    pool = asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        command_timeout=command_timeout,
        server_settings=_server_settings(schema),
        init=init_connection,
        **{"reset": _no_session_reset, **pool_options},
    )
    try:
        await pool
    except DatabaseError:
        pool.terminate()
        raise
    except _CONNECT_ERRORS as exc:
        pool.terminate()
        raise _connect_error(exc, dsn, timeout) from None
    return pool
