"""An embedded nats-server of this package's own (its credentials are created, revoked, reloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import nats
import pytest
from nats.aio.client import Client

from loreweave.embedded import EmbeddedNats
from loreweave.testing import eventually


class Client_:
    """A raw nats-py connection as one role, with the errors the server reported to it."""

    def __init__(self, nc: Client, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors

    async def refused(self, verb: str, subject: str) -> None:
        """Wait for the server's permissions violation of ``verb`` (publish, subscription) on ``subject``."""
        wanted = f'permissions violation for {verb} to "{subject}"'.lower()
        await self.nc.flush()
        await eventually(lambda: any(wanted in error.lower() for error in self.errors), timeout=5,
                         message=f"no permissions violation for {verb} to {subject}: {self.errors}")


Connect = Callable[..., Awaitable[Client_]]


@pytest.fixture(scope="module")
async def secured(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedNats]:
    """A server with authorization on, its data in ``<tmp>/nats`` (so ``<tmp>`` is a data dir)."""
    server = EmbeddedNats(Path(tmp_path_factory.mktemp("secured")) / "nats")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def connect(secured: EmbeddedNats) -> AsyncIterator[Connect]:
    """Connect as a credential (a role's default one by its name); all are closed after the test."""
    opened: list[Client] = []

    async def as_user(name: str, **options: Any) -> Client_:
        errors: list[str] = []

        async def keep(error: Exception) -> None:
            errors.append(str(error))

        options.setdefault("inbox_prefix", f"_INBOX.{name}")  # a scoped role reads only its own replies
        nc = await nats.connect(secured.client_url(name), error_cb=keep, allow_reconnect=False, **options)
        opened.append(nc)
        return Client_(nc, errors)

    yield as_user
    for nc in opened:
        await nc.close()
