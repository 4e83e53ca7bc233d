"""A TCP proxy that injects network faults between a NATS client and nats-server.

Point a client (an actor node) at :attr:`ChaosProxy.url` instead of the server; the proxy
forwards bytes both ways until told to misbehave:

- :meth:`ChaosProxy.cut` aborts every open connection at once (the client reconnects);
- :meth:`ChaosProxy.drop_then_cut` silently discards what the server sends for a moment, then
  cuts: the server believes it delivered those messages, the client never saw them;
- :meth:`ChaosProxy.hold` stalls one direction (bytes wait in the proxy and in TCP buffers)
  until :meth:`ChaosProxy.release`.

The proxy knows nothing of the NATS protocol: it moves bytes, so a fault lands anywhere in a
message, as a real network's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

#: ``to_server``: what the client sends; ``to_client``: what the server sends.
Direction = Literal["to_server", "to_client"]
DIRECTIONS: tuple[Direction, Direction] = ("to_server", "to_client")


@dataclass
class ProxyStats:
    """What the proxy has done so far.

    Attributes:
        accepted: client connections accepted.
        bytes_to_server: bytes forwarded from clients to the server.
        bytes_to_client: bytes forwarded from the server to clients.
        bytes_dropped: bytes read and thrown away by :meth:`ChaosProxy.drop_then_cut`.
        cuts: calls of :meth:`ChaosProxy.cut` (directly or through ``drop_then_cut``).
        connections_cut: connections those cuts ended.
    """

    accepted: int = 0
    bytes_to_server: int = 0
    bytes_to_client: int = 0
    bytes_dropped: int = 0
    cuts: int = 0
    connections_cut: int = 0


class _Link:
    """One client connection and its upstream connection, with a pump per direction."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter) -> None:
        self.writers: dict[Direction, asyncio.StreamWriter] = {"to_server": upstream, "to_client": client}
        self.dropping: set[Direction] = set()
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False

    def abort(self) -> None:
        """End both sockets at once; buffered bytes are lost."""
        if self.closed:
            return
        self.closed = True
        for writer in self.writers.values():
            writer.transport.abort()


class ChaosProxy:
    """An asyncio TCP proxy in front of one upstream server, with faults on demand.

    Args:
        upstream: the server, ``nats://host:port`` or ``host:port``.
        host: where the proxy listens (loopback by default).
        port: its port; 0 picks a free one (see :attr:`port` once started).
        chunk_bytes: most bytes read at a time per direction.

    Use ``async with ChaosProxy(url) as proxy:`` or :meth:`start` / :meth:`stop`.
    """

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0, chunk_bytes: int = 64 * 1024) -> None:
        self.upstream_host, self.upstream_port = _host_port(upstream)
        # The upstream's login travels in the proxy's URL: the proxy moves bytes, the server checks them.
        self._userinfo = urlsplit(upstream).netloc.rpartition("@")[0] if "://" in upstream else ""
        self.host = host
        self._port = port
        self.chunk_bytes = chunk_bytes
        self.stats = ProxyStats()
        self._server: asyncio.base_events.Server | None = None
        self._links: set[_Link] = set()
        self._released: dict[Direction, asyncio.Event] = {}
        self._held_bytes: dict[Direction, int] = {direction: 0 for direction in DIRECTIONS}

    @property
    def port(self) -> int:
        """The port the proxy listens on (known once started)."""
        if self._server is None:
            raise RuntimeError("the proxy is not started")
        return self._port

    @property
    def url(self) -> str:
        """``nats://host:port`` of the proxy (with the upstream URL's user and password), for the client."""
        login = f"{self._userinfo}@" if self._userinfo else ""
        return f"nats://{login}{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """Client connections open now."""
        return sum(1 for link in self._links if not link.closed)

    def held_bytes(self, direction: Direction) -> int:
        """Bytes read from ``direction``'s source and waiting for :meth:`release`."""
        return self._held_bytes[direction]

    async def start(self) -> ChaosProxy:
        """Listen; returns the proxy."""
        for direction in DIRECTIONS:
            self._released[direction] = asyncio.Event()
            self._released[direction].set()
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        self._port = int(self._server.sockets[0].getsockname()[1])
        logger.debug("chaos proxy %s:%d -> %s:%d", self.host, self.port, self.upstream_host, self.upstream_port)
        return self

    async def stop(self) -> None:
        """Stop listening and abort every connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for direction in DIRECTIONS:
            self.release(direction)
        await self._abort(list(self._links))
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> ChaosProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def cut(self) -> int:
        """Abort every open connection at once; returns how many were cut."""
        self.stats.cuts += 1
        cut = await self._abort([link for link in self._links if not link.closed])
        self.stats.connections_cut += cut
        return cut

    async def drop_then_cut(self, drop_s: float, direction: Direction | Literal["both"] = "to_client") -> int:
        """Discard what flows in ``direction`` (or both ways) on the open connections for ``drop_s`` seconds,
        then cut them.

        Connections made meanwhile are left alone. Returns how many connections were cut.
        """
        directions = DIRECTIONS if direction == "both" else (direction,)
        links = [link for link in self._links if not link.closed]
        for link in links:
            link.dropping.update(directions)
        await asyncio.sleep(drop_s)
        self.stats.cuts += 1
        cut = await self._abort(links)
        self.stats.connections_cut += cut
        return cut

    def hold(self, direction: Direction) -> None:
        """Stop forwarding ``direction`` (on every connection, new ones too) until :meth:`release`."""
        self._released[direction].clear()

    def release(self, direction: Direction) -> None:
        """Forward ``direction`` again, starting with what was held."""
        event = self._released.get(direction)
        if event is not None:
            event.set()

    @contextlib.asynccontextmanager
    async def held(self, direction: Direction) -> AsyncIterator[None]:
        """Hold ``direction`` for the block."""
        self.hold(direction)
        try:
            yield
        finally:
            self.release(direction)

    async def _abort(self, links: list[_Link]) -> int:
        """Abort ``links`` and wait for their pumps; returns how many were still open."""
        still_open = [link for link in links if not link.closed]
        for link in links:
            link.abort()
        tasks = [task for link in links for task in link.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return len(still_open)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        except OSError as exc:
            logger.debug("chaos proxy: upstream %s:%d refused: %s", self.upstream_host, self.upstream_port, exc)
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, "to_server")),
            asyncio.create_task(self._pump(link, up_reader, "to_client")),
        ]

    async def _pump(self, link: _Link, source: asyncio.StreamReader, target: Direction) -> None:
        """Copy ``source`` to the ``target`` side, obeying holds and drops."""
        writer = link.writers[target]
        try:
            while not link.closed:
                data = await source.read(self.chunk_bytes)
                if not data:
                    break
                released = self._released[target]
                if not released.is_set():
                    self._held_bytes[target] += len(data)
                    try:
                        await released.wait()
                    finally:
                        self._held_bytes[target] -= len(data)
                if target in link.dropping:
                    self.stats.bytes_dropped += len(data)
                    continue
                if link.closed:
                    break
                writer.write(data)
                if target == "to_server":
                    self.stats.bytes_to_server += len(data)
                else:
                    self.stats.bytes_to_client += len(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            if not link.closed:
                # One side closed: end the other too, as a plain TCP relay would.
                link.abort()
            self._links.discard(link)


def _host_port(address: str) -> tuple[str, int]:
    """``(host, port)`` of ``nats://host:port`` or ``host:port``."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"upstream must be host:port or nats://host:port, got {address!r}")
    return parts.hostname, parts.port
