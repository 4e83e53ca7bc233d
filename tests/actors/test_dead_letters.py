"""Dead letters over a real nats-server: one live copy per frame, a capped stream, oversized frames kept short."""

from __future__ import annotations

import hashlib
from typing import Any

from nats.js.api import DiscardPolicy

from loreweave.actors.runtime import DLQ_STREAM, Actor, ActorNode, Bus, Context, StreamLimits, frame_for, on
from loreweave.config import load_settings
from loreweave.protocol import (
    DEFAULT_MAX_FRAME_BYTES,
    DLQ_REASON,
    DLQ_SHA256,
    DLQ_SIZE,
    Frame,
    encode_frame,
)
from loreweave.schemas import PlayerJoined

from .conftest import counter_value, eventually, live_dead_letters


def sink(name: str, world: str) -> Actor:
    """An actor that takes every player event of ``world``."""

    class Sink(Actor):
        @on(f"lw.{world}.player.>")
        async def any_player(self, event: Any, ctx: Context) -> None:
            pass

    Sink.name = name
    return Sink()


async def test_a_bad_frame_refused_by_six_actors_on_two_nodes_is_one_live_copy(bus, start_node, world) -> None:
    first = await start_node(*(sink(f"a{index}-{world}", world) for index in range(3)))
    second = await start_node(*(sink(f"b{index}-{world}", world) for index in range(3)))
    live = await live_dead_letters(bus)
    before = (await bus.js.stream_info(DLQ_STREAM)).state.messages
    counted = counter_value("lw.frames.dead_lettered", **{"lw.reason": "malformed"})
    marker = f"not a frame {world}".encode()

    await bus.nc.publish(f"lw.{world}.player.joined", marker)
    await eventually(lambda: counter_value("lw.frames.dead_lettered", **{"lw.reason": "malformed"}) == counted + 6)
    for node in (first, second):  # whatever the nodes sent has reached the server...
        await node.bus.sync()
    await bus.sync()  # ...and the server has delivered it to us

    assert [msg.data for msg in live if msg.data == marker] == [marker]
    assert (await bus.js.stream_info(DLQ_STREAM)).state.messages == before + 1
    stored = await bus.js.get_last_msg(DLQ_STREAM, "lw.dlq.malformed")
    assert stored.data == marker and stored.headers[DLQ_REASON] == "malformed"


async def test_the_dead_letter_stream_is_capped_by_settings(bus) -> None:
    settings = load_settings({"LOREWEAVE_DLQ_MAX_BYTES": str(64 * 1024**2), "LOREWEAVE_DLQ_MAX_MSG_BYTES": "32768"})
    limits = StreamLimits.from_settings(settings)
    assert (limits.dlq_max_bytes, limits.dlq_max_msg_bytes) == (64 * 1024**2, 32768)

    config = (await bus.js.stream_info(DLQ_STREAM)).config
    defaults = StreamLimits()
    assert config.max_bytes == defaults.dlq_max_bytes == 256 * 1024**2
    assert config.max_msg_size == defaults.dlq_max_msg_bytes
    assert config.discard == DiscardPolicy.OLD


async def test_an_oversized_frame_reaches_the_actor_and_is_kept_truncated(
    bus, nats_server_url, world
) -> None:
    # The node's bus has the default frame limit, which must be under the server's max_payload.
    node_bus = await Bus.connect(nats_server_url, name="test-oversized")
    assert node_bus.max_frame_bytes == DEFAULT_MAX_FRAME_BYTES < node_bus.nc.max_payload
    node = ActorNode(node_bus, [sink(f"big-{world}", world)])
    await node.start()
    try:
        live = await live_dead_letters(bus)
        frame = Frame(
            type="player.joined", world=world, payload={"player_id": "p", "pad": "x" * (600 * 1024)}, source="t"
        )
        data = encode_frame(frame, max_bytes=node_bus.nc.max_payload)
        assert DEFAULT_MAX_FRAME_BYTES < len(data) < node_bus.nc.max_payload
        await bus.nc.publish(f"lw.{world}.player.joined", data)

        letter = await eventually(lambda: next((m for m in live if m.headers.get(DLQ_SIZE) == str(len(data))), None))
        assert letter.subject == "lw.dlq.too_large"
        assert letter.headers[DLQ_SHA256] == hashlib.sha256(data).hexdigest()
        assert data.startswith(letter.data) and len(letter.data) <= StreamLimits().dlq_max_msg_bytes
        stored = await bus.js.get_last_msg(DLQ_STREAM, "lw.dlq.too_large")
        assert stored.headers[DLQ_SHA256] == letter.headers[DLQ_SHA256] and stored.data == letter.data
    finally:
        await node.stop()


async def test_a_failing_handler_in_each_of_two_actors_is_two_letters(bus, start_node, world) -> None:
    def fragile(name: str) -> Actor:
        class Fragile(Actor):
            @on(f"lw.{world}.player.joined")
            async def joined(self, event: PlayerJoined, ctx: Context) -> None:
                raise ValueError("cursed")

        Fragile.name = name
        return Fragile()

    await start_node(fragile(f"f1-{world}"), fragile(f"f2-{world}"), attempts=1)
    live = await live_dead_letters(bus)
    cursed = frame_for(PlayerJoined(player_id="cursed"), world, "test")
    await bus.publish(cursed)
    await eventually(lambda: len([m for m in live if m.headers.get("Lw-Dlq-Subject") == cursed.subject]) >= 2)
    actors = sorted(m.headers["Lw-Dlq-Actor"] for m in live if m.headers.get("Lw-Dlq-Subject") == cursed.subject)
    assert actors == [f"f1-{world}", f"f2-{world}"]
