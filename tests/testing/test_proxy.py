"""The chaos proxy against a real nats-server: cuts, bytes dropped in flight, stalled directions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client

from loreweave.testing import ChaosProxy, eventually


@pytest.fixture
async def proxy(nats_server_url: str) -> AsyncIterator[ChaosProxy]:
    async with ChaosProxy(nats_server_url) as started:
        yield started


class Watched:
    """A NATS client through the proxy that counts its reconnections and keeps what it receives."""

    def __init__(self) -> None:
        self.nc: Client | None = None
        self.reconnects = 0
        self.received: list[bytes] = []

    async def connect(self, url: str, subject: str) -> Client:
        async def reconnected() -> None:
            self.reconnects += 1

        async def keep(msg) -> None:
            self.received.append(msg.data)

        # Quick reconnects: the server itself never went away.
        self.nc = await nats.connect(url, reconnected_cb=reconnected, reconnect_time_wait=0.05,
                                     max_reconnect_attempts=-1, name="proxy-test")
        await self.nc.subscribe(subject, cb=keep)
        await self.nc.flush()
        return self.nc


@pytest.fixture
async def direct(nats_server_url: str) -> AsyncIterator[Client]:
    nc = await nats.connect(nats_server_url, name="proxy-test-direct")
    yield nc
    await nc.close()


@pytest.fixture
async def watched() -> AsyncIterator[Watched]:
    client = Watched()
    yield client
    if client.nc is not None:
        await client.nc.close()


async def test_the_proxy_listens_on_a_free_loopback_port_and_forwards(proxy, direct, watched, world) -> None:
    assert proxy.url.startswith("nats://") and proxy.url.endswith(f"@127.0.0.1:{proxy.port}")  # the login travels
    assert proxy.port not in (0, 4222)
    await watched.connect(proxy.url, f"chaos.{world}")
    await direct.publish(f"chaos.{world}", b"hello")
    await eventually(lambda: watched.received == [b"hello"])
    assert proxy.stats.accepted == 1 and proxy.open_connections == 1
    assert proxy.stats.bytes_to_server > 0 and proxy.stats.bytes_to_client > 0


async def test_cut_ends_every_connection_and_the_client_comes_back(proxy, direct, watched, world) -> None:
    await watched.connect(proxy.url, f"chaos.{world}")
    assert await proxy.cut() == 1
    assert proxy.stats.cuts == 1 and proxy.stats.connections_cut == 1
    await eventually(lambda: watched.reconnects == 1)
    await watched.nc.flush()  # resubscribed on the new connection
    await direct.publish(f"chaos.{world}", b"after the cut")
    await eventually(lambda: watched.received == [b"after the cut"])
    assert proxy.stats.accepted == 2


async def test_drop_then_cut_loses_what_the_server_sent_meanwhile(proxy, direct, watched, world) -> None:
    subject = f"chaos.{world}"
    await watched.connect(proxy.url, subject)
    await direct.publish(subject, b"before")
    await eventually(lambda: watched.received == [b"before"])
    dropping = asyncio.create_task(proxy.drop_then_cut(1.0))
    await asyncio.sleep(0)  # the drop starts now; the cut comes after 1 s
    for index in range(10):
        await direct.publish(subject, f"lost {index}".encode())
    await direct.flush()  # the server has them, and sends them to the subscriber
    await eventually(lambda: proxy.stats.bytes_dropped >= 10 * len(subject))
    assert await dropping == 1
    await eventually(lambda: watched.reconnects == 1)
    await watched.nc.flush()
    await direct.publish(subject, b"after")
    await eventually(lambda: b"after" in watched.received)
    assert watched.received == [b"before", b"after"], "bytes dropped in flight reached the client"


async def test_hold_stalls_one_direction_until_release(proxy, direct, watched, world) -> None:
    subject = f"chaos.{world}"
    await watched.connect(proxy.url, subject)
    proxy.hold("to_client")
    await direct.publish(subject, b"held")
    await eventually(lambda: proxy.held_bytes("to_client") > 0)
    assert watched.received == [], "a held direction delivered"
    proxy.release("to_client")
    await eventually(lambda: watched.received == [b"held"])
    assert proxy.held_bytes("to_client") == 0

    seen: list[bytes] = []

    async def keep(msg) -> None:
        seen.append(msg.data)

    await direct.subscribe(f"{subject}.up", cb=keep)
    await direct.flush()
    async with proxy.held("to_server"):
        await watched.nc.publish(f"{subject}.up", b"up")
        await eventually(lambda: proxy.held_bytes("to_server") > 0)
        assert seen == []
    await eventually(lambda: seen == [b"up"])
    assert proxy.stats.bytes_dropped == 0 and proxy.stats.cuts == 0


async def test_a_client_is_closed_when_the_upstream_is_down() -> None:
    from loreweave.embedded import free_port

    async with ChaosProxy(f"127.0.0.1:{free_port()}") as dead_end:
        reader, writer = await asyncio.open_connection("127.0.0.1", dead_end.port)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_a_drop_both_ways_also_loses_what_the_client_sent(proxy, direct, watched, world) -> None:
    subject = f"chaos.{world}"
    seen: list[bytes] = []

    async def keep(msg) -> None:
        seen.append(msg.data)

    await direct.subscribe(f"{subject}.up", cb=keep)
    await direct.flush()
    await watched.connect(proxy.url, subject)
    dropping = asyncio.create_task(proxy.drop_then_cut(1.0, "both"))
    await asyncio.sleep(0)
    await watched.nc.publish(f"{subject}.up", b"lost on the way up")
    await eventually(lambda: proxy.stats.bytes_dropped > 0)
    assert await dropping == 1
    await eventually(lambda: watched.reconnects == 1)
    await watched.nc.publish(f"{subject}.up", b"after")
    await eventually(lambda: seen == [b"after"])
