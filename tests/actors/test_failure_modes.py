"""Failures that used to hide: dropped frames, lost connections, hung shutdowns, error replies without a cause."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import threading
from pathlib import Path
import msgpack
import pytest

from loreweave.actors.runtime import Actor, ActorNode, Bus, Context, on, reply
from loreweave.embedded import EmbeddedNats
from loreweave.embedded.nats import free_port, nats_server_binary
from loreweave.protocol import Frame, encode_frame, new_frame_id
from loreweave.schemas import NpcSaid, PlayerJoined, PlayerSpoke

from .conftest import counter_value, eventually


async def test_frames_a_slow_core_subscription_drops_are_counted(bus, start_node, world, caplog) -> None:
    release = asyncio.Event()

    class Stuck(Actor):
        name = f"stuck-{world}"

        @on(f"lw.{world}.player.joined", key=lambda frame: frame.world)
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            await release.wait()

    # One frame in the mailbox, eight queued by the client: the rest of the flood is dropped.
    await start_node(Stuck(), capacity=1)
    before = counter_value("lw.frames.dropped", **{"lw.actor": f"stuck-{world}"})
    try:
        for number in range(100):
            await bus.emit(PlayerJoined(player_id=f"p{number}"), world, source="test")
        await eventually(
            lambda: counter_value("lw.frames.dropped", **{"lw.actor": f"stuck-{world}"}) >= before + 80
        )
    finally:
        release.set()
    warnings = [r for r in caplog.records if "fell behind" in r.getMessage() and f"lw.{world}." in r.getMessage()]
    assert len(warnings) == 1, "one line per subscription, not one per dropped frame"


async def test_a_lost_connection_is_counted_and_logged_once(tmp_path: Path, caplog) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    await server.start()
    node = ActorNode(await Bus.connect(server.client_url(), name="test-disconnects"), [])
    await node.start()
    lost = counter_value("lw.bus.disconnects")
    back = counter_value("lw.bus.reconnects")
    try:
        with caplog.at_level(logging.WARNING, logger="loreweave"):
            await server.stop()
            await eventually(lambda: counter_value("lw.bus.disconnects") == lost + 1)
            await server.start()
            await eventually(lambda: counter_value("lw.bus.reconnects") == back + 1, timeout=10)
        assert len([r for r in caplog.records if "connection lost" in r.getMessage()]) == 1
    finally:
        await node.stop()
        await server.stop()
    assert counter_value("lw.bus.disconnects") == lost + 1, "closing on purpose is not a loss"


def _flood(port: int, subject: str, total_bytes: int) -> None:
    """Publish ``total_bytes`` on ``subject`` over a raw NATS connection (from a thread)."""
    payload = b"x" * 8192
    message = f"PUB {subject} {len(payload)}\r\n".encode() + payload + b"\r\n"
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
        for _ in range(total_bytes // len(payload)):
            raw.sendall(message)
        raw.sendall(b"PING\r\n")
        raw.recv(64)


async def test_a_server_cutting_a_slow_consumer_is_counted_and_logged_once(tmp_path: Path, world, caplog) -> None:
    # A server that buffers at most 64 KiB for a client cuts one that stops reading.
    port = free_port()
    (tmp_path / "nats.conf").write_text(
        f"listen: 127.0.0.1:{port}\nmax_pending: 65536\nmax_payload: 32768\n"
        f"jetstream {{ store_dir: {str(tmp_path / 'js')!r} }}\n"
    )
    server = subprocess.Popen(
        [str(nats_server_binary()), "-c", str(tmp_path / "nats.conf")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        bus = await Bus.connect(f"nats://127.0.0.1:{port}", name="test-cut", max_frame_bytes=16384, wait_s=10)
        node = ActorNode(bus, [])
        await node.start()
        lost = counter_value("lw.bus.disconnects")
        back = counter_value("lw.bus.reconnects")
        await bus.nc.subscribe(f"lw.{world}.flood", cb=_ignore)
        await bus.sync()
        flooder = threading.Thread(target=_flood, args=(port, f"lw.{world}.flood", 20_000_000))
        flooder.start()
        flooder.join()  # on the event loop, on purpose: the client reads nothing while the flood lasts
        await eventually(lambda: counter_value("lw.bus.disconnects") == lost + 1)
        await eventually(lambda: counter_value("lw.bus.reconnects") == back + 1, timeout=10)
        assert len([r for r in caplog.records if "connection lost" in r.getMessage()]) == 1
        await node.stop()
    finally:
        server.terminate()
        server.wait()


async def _ignore(msg: object) -> None:
    pass


async def test_an_error_reply_names_the_request_even_when_it_cannot_be_decoded(bus, start_node, world) -> None:
    class Oracle(Actor):
        name = f"oracle-{world}"

        @reply(f"lw.rpc.{world}.player.spoke")
        async def answer(self, event: PlayerSpoke, ctx: Context) -> NpcSaid:
            return NpcSaid(npc_id=event.npc_id, text="yes")

    await start_node(Oracle())
    # The payload misses npc_id and text: the request fails validation before any handler runs.
    request = Frame(
        type="player.spoke", world=world, payload={"player_id": "p1"}, source="test",
        correlation_id=new_frame_id(),
    )
    answer = await bus.nc.request(f"lw.rpc.{world}.player.spoke", encode_frame(request), timeout=3)
    error = bus.decode(answer.data)
    assert error.type == "sys.error" and error.payload.code == "invalid_payload"
    assert error.correlation_id == request.correlation_id != request.id
    assert error.causation_id == request.id

    garbage = await bus.nc.request(f"lw.rpc.{world}.player.spoke", msgpack.packb({"id": "nope"}), timeout=3)
    error = bus.decode(garbage.data)
    assert error.causation_id is None and error.correlation_id == error.id  # nothing to recover: a new root


async def test_stop_is_bounded_with_a_backlog_of_slow_frames(bus, nats_server_url, world, caplog) -> None:
    started = asyncio.Event()

    class Slow(Actor):
        name = f"slow-{world}"

        @on(f"lw.{world}.player.joined", key=lambda frame: frame.world)
        async def joined(self, event: PlayerJoined, ctx: Context) -> None:
            started.set()
            await asyncio.sleep(30)

    node = ActorNode(await Bus.connect(nats_server_url, name="test-backlog"), [Slow()], capacity=4,
                     drain_timeout_s=0.5)
    await node.start()
    for number in range(30):  # 4 in the mailbox, the rest queued by the client
        await bus.emit(PlayerJoined(player_id=f"p{number}"), world, source="test")
    await asyncio.wait_for(started.wait(), 5)
    await bus.sync()
    await asyncio.wait_for(node.stop(), 5)  # drain 0.5 s, then cancel; the old stop waited on every frame
    assert any("did not drain" in record.getMessage() for record in caplog.records)


@pytest.fixture(autouse=True)
def _loreweave_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="loreweave")
