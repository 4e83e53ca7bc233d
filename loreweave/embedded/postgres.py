"""An embedded PostgreSQL 16 with pgvector (from the ``pgserver`` package), used when no server is configured.

pgserver runs ``initdb`` on first use and ``pg_ctl start``; the server listens on a
Unix socket in its data directory only (no TCP port). Several processes may share
one data directory: each attaches to the running server, and the last one to let
go stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, AsyncIterator

from loreweave.protocol.errors import ConfigError

if TYPE_CHECKING:
    from loreweave.config import Settings

logger = logging.getLogger(__name__)

#: Folder of the embedded server's data, under ``settings.data_dir``.
POSTGRES_DIR = "postgres"


def _import_pgserver() -> ModuleType:
    try:
        with warnings.catch_warnings():
            # platformdirs warns, at import, that XDG_RUNTIME_DIR is unset (servers, containers).
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pgserver
    except ImportError:
        raise ConfigError(
            "LOREWEAVE_DATABASE_URL",
            "is not set and the embedded PostgreSQL needs the pgserver package (pip install pgserver)",
        ) from None
    # pgserver logs every pg_ctl call with its output at INFO; keep that for those who ask.
    pgserver_logger = logging.getLogger("pgserver")
    if pgserver_logger.level == logging.NOTSET:
        pgserver_logger.setLevel(logging.WARNING)
    return pgserver


def _forget_dead_handles(pgserver: object, pgdata: Path) -> None:
    """Drop the pids of processes that died holding the server from pgserver's handle list.

    pgserver stops the server when the last process in ``.handle_pids.json`` lets go;
    a process killed with SIGKILL never removes itself, and the server would then
    never be stopped again.
    """
    import psutil  # a pgserver dependency

    handles = pgdata / ".handle_pids.json"
    if not handles.is_file():
        return
    with pgserver.PostgresServer._lock:  # type: ignore[attr-defined]
        try:
            pids = json.loads(handles.read_text())
            alive = [pid for pid in pids if psutil.pid_exists(pid)]
        except (OSError, ValueError, TypeError):
            return
        if alive != pids:
            handles.write_text(json.dumps(alive))


class EmbeddedPostgres:
    """A pgserver-managed PostgreSQL whose data lives in ``pgdata``."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = Path(pgdata).expanduser().resolve()
        self.start_seconds: float | None = None
        self._server: object | None = None

    @property
    def dsn(self) -> str:
        """The server's ``postgresql://`` URL (a Unix socket in the data directory)."""
        if self._server is None:
            raise ConfigError("pgserver", "the embedded PostgreSQL is not started")
        uri: str = self._server.get_uri()  # type: ignore[attr-defined]
        return uri

    @property
    def pid(self) -> int | None:
        """Process id of the postmaster, while started."""
        if self._server is None:
            return None
        pid: int | None = self._server.get_pid()  # type: ignore[attr-defined]
        return pid

    async def start(self) -> str:
        """Start the server (or attach to the one already running on this data) and return its DSN.

        Raises:
            ConfigError: pgserver is missing, the server did not start, or it has no pgvector.
        """
        pgserver = _import_pgserver()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()

        def start_blocking() -> object:
            _forget_dead_handles(pgserver, self.pgdata)
            return pgserver.get_server(self.pgdata, cleanup_mode="stop")

        try:
            # pgserver blocks (a file lock, initdb, pg_ctl -w): keep it off the event loop.
            self._server = await asyncio.to_thread(start_blocking)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError, RuntimeError) as exc:
            raise ConfigError(
                "pgserver", f"PostgreSQL did not start in {self.pgdata}: {exc} (log: {self.pgdata / 'log'})"
            ) from None
        self.start_seconds = time.perf_counter() - started
        logger.info("embedded PostgreSQL ready in %.2fs at %s", self.start_seconds, self.pgdata)
        await self._check_vector()
        return self.dsn

    async def _check_vector(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            available = await conn.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")
        finally:
            await conn.close()
        if not available:
            await self.stop()
            raise ConfigError("pgserver", "the embedded PostgreSQL has no pgvector extension")

    async def stop(self) -> None:
        """Let go of the server; it stops if no other process still uses it."""
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.cleanup)  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def database_dsn(settings: Settings) -> AsyncIterator[str]:
    """Yield the DSN to use: ``LOREWEAVE_DATABASE_URL`` as is, or an embedded server's, for the block.

    The embedded server keeps its data in ``settings.data_dir / "postgres"`` and is
    stopped when the block exits (unless another process still uses it).
    """
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir / POSTGRES_DIR)
    dsn = await server.start()
    try:
        yield dsn
    finally:
        await server.stop()
