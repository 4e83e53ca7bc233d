"""Session-wide real servers: one nats-server (embedded unless LOREWEAVE_NATS_URL is set)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable

import pytest

from loreweave.actors.runtime import Actor, ActorNode, Bus
from loreweave.embedded import EmbeddedNats


@pytest.fixture(scope="session")
async def nats_server_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """URL of the NATS server the tests use; an embedded one unless LOREWEAVE_NATS_URL is set."""
    configured = os.environ.get("LOREWEAVE_NATS_URL")
    if configured:
        yield configured
        return
    server = EmbeddedNats(Path(tmp_path_factory.mktemp("nats")))
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


@pytest.fixture
def world() -> str:
    """A world id no other test uses, so tests never see each other's frames."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
async def bus(nats_server_url: str) -> AsyncIterator[Bus]:
    """A connected bus with the streams created (a client, as a game server would use)."""
    connected = await Bus.connect(nats_server_url, name="test-client")
    await connected.ensure_streams()
    yield connected
    await connected.close()


NodeFactory = Callable[..., Awaitable[ActorNode]]


@pytest.fixture
async def start_node(nats_server_url: str) -> AsyncIterator[NodeFactory]:
    """Start actor nodes on their own connections; all are stopped after the test."""
    nodes: list[ActorNode] = []

    async def start(*actors: Actor, max_frame_bytes: int = 1024 * 1024, **options: object) -> ActorNode:
        node_bus = await Bus.connect(nats_server_url, name="test-node", max_frame_bytes=max_frame_bytes)
        node = ActorNode(node_bus, actors, **options)  # type: ignore[arg-type]
        await node.start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        await node.stop()
