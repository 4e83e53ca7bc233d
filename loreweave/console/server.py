"""Running the console: its sources opened, its web server started inside the caller's event loop.

``loreweave console`` uses :func:`open_console` (connects to the bus as a designer, opens the
database); ``loreweave up`` builds a :class:`ConsoleServer` on the bus and database it already has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn

from loreweave.console.app import create_app
from loreweave.console.live import LiveFeed
from loreweave.console.operations import ActorCounters
from loreweave.console.state import ConsoleState
from loreweave.db import Database
from loreweave.protocol.errors import ConfigError, LoreweaveError

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process's owner (``up``'s node, the CLI) handles them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ConsoleServer:
    """The console's HTTP server over ``state``, on ``host:port`` (0: any free port)."""

    def __init__(self, state: ConsoleState, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Where a browser opens the console."""
        host = "localhost" if self.host in ("127.0.0.1", "0.0.0.0", "::1", "::") else self.host
        return f"http://{host}:{self.port}/"

    async def start(self) -> str:
        """Start serving; the URL once the socket listens.

        Raises:
            ConfigError: the port cannot be bound (field ``port``).
        """
        # Bound here, not by uvicorn: on a taken port uvicorn calls sys.exit, which would end the
        # whole process (``up`` and its world), not just the console.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
        except OSError as exc:
            listener.close()
            raise ConfigError("port", f"the console cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        listener.listen(128)
        listener.setblocking(False)
        self.port = int(listener.getsockname()[1])
        config = uvicorn.Config(
            create_app(self.state), host=self.host, port=self.port, log_level="warning", access_log=False,
            lifespan="off", timeout_graceful_shutdown=1,
        )
        server = self._server = _Server(config)

        async def serve() -> None:
            try:
                await server.serve(sockets=[listener])
            except SystemExit:  # uvicorn's way of failing: never let it end the caller's process
                logger.error("console: the web server stopped")
            finally:
                listener.close()

        self._task = asyncio.create_task(serve())
        while not server.started:
            if self._task.done():
                raise ConfigError("port", f"the console could not start on {self.host}:{self.port}")
            await asyncio.sleep(0.02)
        return self.url

    async def stop(self) -> None:
        """Stop serving (open streams are closed)."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, SystemExit):
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 3.0)
            except asyncio.TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)


def knowledge_base_on(database: Database, *, warm: bool = True) -> Any | None:
    """A knowledge base on ``database`` (its embedder warming in the background), or None without kb."""
    try:
        from loreweave.kb import KnowledgeBase
    except ImportError as exc:
        logger.warning("console: lore search and memories are off (%s): install loreweave[kb]", exc)
        return None
    kb = KnowledgeBase(database.pool)
    if warm:
        task = asyncio.get_running_loop().create_task(kb.embedder.warm_up())
        task.add_done_callback(lambda t: t.cancelled() or t.exception() is None or logger.warning(
            "console: the embedding model did not load (%s); vector search is off", t.exception()))
    return kb


async def start_console(
    world: str, designer_bus: Any, database: Database, *, kb: Any | None = None, ops_bus: Any | None = None,
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
) -> ConsoleServer:
    """Follow ``world`` on ``designer_bus`` and serve the console; stop it with :meth:`ConsoleServer.stop`.

    Raises:
        LoreweaveError: the bus credential may not read the world's story, or the port is taken.
    """
    feed = LiveFeed(world)
    await feed.start(designer_bus)
    counters = None
    if ops_bus is not None:
        counters = ActorCounters(world)
        await counters.start(ops_bus)
    state = ConsoleState(world=world, database=database, feed=feed, kb=kb, ops_bus=ops_bus, counters=counters)
    try:
        await state.refresh_world_state()
    except Exception:  # noqa: BLE001  (no snapshot table yet: the pages say so)
        logger.warning("console: the npc actor's snapshot could not be read yet", exc_info=True)
    state.start_refreshing()
    server = ConsoleServer(state, host, port)
    try:
        await server.start()
    except LoreweaveError:
        await state.stop()
        await feed.stop()
        raise
    original_stop = server.stop

    async def stop_all() -> None:
        await original_stop()
        await state.stop()
        await feed.stop()
        if counters is not None:
            await counters.stop()

    server.stop = stop_all  # type: ignore[method-assign]
    return server


@contextlib.asynccontextmanager
async def open_console(
    world: str, designer_url: str, database: Database, *, ops_url: str | None = None,
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, wait_s: float = 5.0,
) -> AsyncIterator[ConsoleServer]:
    """The console of ``world``, connected to the bus as ``designer_url``'s user, for the block."""
    from loreweave.actors.runtime import Bus

    bus = await Bus.connect(designer_url, name="loreweave-console", wait_s=wait_s)
    ops_bus = None
    if ops_url is not None:
        try:
            ops_bus = await Bus.connect(ops_url, name="loreweave-console-ops", wait_s=wait_s)
        except (LoreweaveError, OSError, asyncio.TimeoutError) as exc:
            logger.warning("console: no ops connection (%s): dead letters are not shown", exc)
    try:
        server = await start_console(world, bus, database, kb=knowledge_base_on(database), ops_bus=ops_bus,
                                     host=host, port=port)
        try:
            yield server
        finally:
            await server.stop()
    finally:
        if ops_bus is not None:
            await ops_bus.close()
        await bus.close()
