"""Session-wide real servers: one nats-server and one PostgreSQL (embedded unless
LOREWEAVE_NATS_URL / LOREWEAVE_DATABASE_URL are set); each test gets its own world id and schema."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

import pytest

from loreweave.actors.runtime import Actor, ActorNode, Bus
from loreweave.embedded import EmbeddedNats
from loreweave.protocol import DEFAULT_MAX_FRAME_BYTES

if TYPE_CHECKING:
    from loreweave.db import Database

# Nodes the tests start through the CLI run their actors exclusively (the default), on one shared
# server: a node killed by a test holds its actors' leases for this long, not the production 10 s.
os.environ.setdefault("LOREWEAVE_ACTOR_LEASE_TTL_S", "2")


@pytest.fixture(scope="session")
async def nats_server_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """URL of the NATS server the tests use; an embedded one unless LOREWEAVE_NATS_URL is set.

    The embedded server refuses anonymous clients: the URL carries its admin credential.
    """
    configured = os.environ.get("LOREWEAVE_NATS_URL")
    if configured:
        yield configured
        return
    server = EmbeddedNats(Path(tmp_path_factory.mktemp("nats")))
    await server.start()
    try:
        yield server.client_url("admin")
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
async def start_node(nats_server_url: str, request: pytest.FixtureRequest) -> AsyncIterator[NodeFactory]:
    """Start actor nodes on their own connections; all are stopped after the test."""
    nodes: list[ActorNode] = []
    request.node.stash[RUNNING_NODES] = nodes

    async def start(*actors: Actor, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, **options: Any) -> ActorNode:
        node_bus = await Bus.connect(nats_server_url, name="test-node", max_frame_bytes=max_frame_bytes)
        node = ActorNode(node_bus, actors, **options)  # type: ignore[arg-type]
        await node.start()
        nodes.append(node)
        return node

    yield start
    await stop_nodes(nodes)


#: The nodes a test started, for the fixtures torn down before ``start_node`` (see ``database``).
RUNNING_NODES = pytest.StashKey[list[ActorNode]]()


async def stop_nodes(nodes: list[ActorNode]) -> None:
    """Stop the nodes in the order they started, each once."""
    while nodes:
        await nodes.pop(0).stop()


@pytest.fixture(scope="session")
async def pg_server() -> AsyncIterator[str]:
    """DSN of the PostgreSQL under test: LOREWEAVE_DATABASE_URL, else one embedded pgserver."""
    configured = os.environ.get("LOREWEAVE_DATABASE_URL")
    if configured:
        yield configured
        return
    from loreweave.embedded.postgres import EmbeddedPostgres

    folder = Path(tempfile.mkdtemp(prefix="lw-test-pg-"))
    server = EmbeddedPostgres(folder / "postgres")
    try:
        await server.start()
        yield server.dsn
    finally:
        await server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
async def pg_dsn(pg_server: str) -> AsyncIterator[str]:
    """A database of this session's own (dropped at the end), pgvector in its public schema."""
    from loreweave.testing import fresh_database

    async with fresh_database(pg_server, vector=True) as dsn:
        yield dsn


@pytest.fixture
async def fresh_dsn(pg_server: str) -> AsyncIterator[str]:
    """An empty database for one test (commands and processes use its public schema)."""
    from loreweave.testing import fresh_database

    async with fresh_database(pg_server) as dsn:
        yield dsn


@pytest.fixture
async def db_schema(pg_dsn: str) -> AsyncIterator[str]:
    """A schema no other test uses, dropped afterwards."""
    import asyncpg

    name = "t_" + uuid.uuid4().hex[:12]
    conn = await asyncpg.connect(pg_dsn)
    await conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
    await conn.close()


@pytest.fixture
async def database(pg_dsn: str, db_schema: str, request: pytest.FixtureRequest) -> AsyncIterator["Database"]:
    """A migrated Database (pool, state store, journal) on the test's own schema."""
    from loreweave.db import Database

    opened = await Database.open(pg_dsn, schema=db_schema, max_size=4)
    yield opened
    # Named after ``start_node``, this fixture is torn down first: the test's nodes stop before
    # the pool closes (a persistent actor keeps a connection while its frames keep coming).
    await stop_nodes(request.node.stash.get(RUNNING_NODES, []))
    await opened.close()
