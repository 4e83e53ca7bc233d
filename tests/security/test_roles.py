"""Every attack of the issue against a real embedded server is refused; each role's own work is not."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import nats
import pytest
from nats.errors import NoRespondersError, TimeoutError as NatsTimeoutError

from loreweave.actors.catalog import build_actors
from loreweave.actors.runtime import ActorNode, Bus, RequestError, frame_for
from loreweave.embedded import EmbeddedNats
from loreweave.protocol import LoreweaveError
from loreweave.schemas import PlayerJoined, SettingsGet, SettingsUpdate
from loreweave.testing import eventually

from .conftest import Connect


@pytest.fixture
def world() -> str:
    return "t" + uuid.uuid4().hex[:12]


async def watch(client: Any, subject: str) -> list[str]:
    """Subjects of the messages ``client`` (an admin) receives on ``subject``, live."""
    seen: list[str] = []

    async def keep(msg: Any) -> None:
        seen.append(msg.subject)

    await client.nc.subscribe(subject, cb=keep)
    await client.nc.flush()
    return seen


async def test_an_anonymous_client_is_refused(secured: EmbeddedNats) -> None:
    with pytest.raises(Exception, match="(?i)authorization violation"):
        await nats.connect(secured.url, allow_reconnect=False, connect_timeout=2)
    # The server answers -ERR 'Authorization Violation' and closes; the client may see the close first.
    with pytest.raises(LoreweaveError, match="refused the credentials|Connection reset") as caught:
        await Bus.connect(secured.url, wait_s=2)
    assert secured.url in str(caught.value)
    assert "authentication error" in (secured.data_dir / "nats-server.log").read_text()


async def test_a_wrong_password_is_refused_and_never_printed(secured: EmbeddedNats) -> None:
    url = secured.url.replace("nats://", "nats://admin:not-the-password@")
    with pytest.raises(LoreweaveError) as caught:
        await Bus.connect(url, wait_s=2)
    assert "not-the-password" not in str(caught.value) and "admin:***@" in str(caught.value)


async def test_a_game_server_cannot_read_the_whole_bus_nor_requests(connect: Connect, world: str) -> None:
    game, admin = await connect("game-server"), await connect("admin")
    spied: list[str] = []

    async def spy(msg: Any) -> None:
        spied.append(msg.subject)

    await game.nc.subscribe(">", cb=spy)
    await game.refused("subscription", ">")
    await game.nc.subscribe("lw.rpc.>", cb=spy)
    await game.refused("subscription", "lw.rpc.>")
    await game.nc.subscribe("lw.dlq.>", cb=spy)
    await game.refused("subscription", "lw.dlq.>")
    await admin.nc.publish(f"lw.rpc.{world}.payment.purchase", b"card")
    await admin.nc.publish("lw.dlq.malformed", b"letter")
    await admin.nc.flush()
    await game.nc.flush()
    assert spied == []


async def test_a_game_server_reads_only_its_own_replies(connect: Connect, world: str) -> None:
    game, designer = await connect("game-server"), await connect("designer")
    for inbox in ("_INBOX.>", "_INBOX.designer.>"):
        await game.nc.subscribe(inbox)
        await game.refused("subscription", inbox)
    await game.nc.publish("_INBOX.designer.forged", b"a forged reply")
    await game.refused("publish", "_INBOX.designer.forged")
    with pytest.raises(NoRespondersError):  # its own requests still get their answers (here: none)
        await designer.nc.request(f"lw.rpc.{world}.kb.search", b"q", timeout=2)


async def test_a_rogue_responder_never_answers_the_game_servers_purchases(connect: Connect, world: str) -> None:
    rogue, game = await connect("game-server"), await connect("game-server")
    answered: list[str] = []

    async def answer(msg: Any) -> None:
        answered.append(msg.subject)
        await msg.respond(b"fake receipt")

    await rogue.nc.subscribe(f"lw.rpc.{world}.payment.purchase", cb=answer)
    await rogue.refused("subscription", f"lw.rpc.{world}.payment.purchase")
    with pytest.raises(NoRespondersError):
        await game.nc.request(f"lw.rpc.{world}.payment.purchase", b"card", timeout=2)
    assert answered == []


@pytest.mark.parametrize("event", ["payment.succeeded", "payment.refunded", "world.flag_set", "quest.completed",
                                   "npc.said", "narrative.beat", "settings.changed"])
async def test_a_game_server_cannot_forge_an_actors_event(connect: Connect, world: str, event: str) -> None:
    game, admin = await connect("game-server"), await connect("admin")
    seen = await watch(admin, f"lw.{world}.>")
    await game.nc.publish(f"lw.{world}.{event}", b"forged")
    await game.refused("publish", f"lw.{world}.{event}")
    await game.nc.publish(f"lw.{world}.player.joined", b"its own input")  # after the forgery, same connection
    await eventually(lambda: seen, message="the game server's own event did not arrive")
    assert seen == [f"lw.{world}.player.joined"]


@pytest.mark.parametrize("api", ["$JS.API.STREAM.DELETE.LOREWEAVE", "$JS.API.STREAM.PURGE.LOREWEAVE",
                                 "$JS.API.STREAM.LIST", "$JS.API.CONSUMER.DELETE.LOREWEAVE.any",
                                 "$JS.API.STREAM.UPDATE.LOREWEAVE"])
async def test_a_game_server_cannot_touch_the_streams(connect: Connect, secured: EmbeddedNats, api: str) -> None:
    node = await Bus.connect(secured.url, credentials=secured.auth.path("actor-node"))
    try:
        await node.ensure_streams()
        game = await connect("game-server")
        with pytest.raises((NatsTimeoutError, asyncio.TimeoutError)):
            await game.nc.request(api, b"{}", timeout=1)
        await game.refused("publish", api)
        assert (await node.js.stream_info("LOREWEAVE")).config.name == "LOREWEAVE"
    finally:
        await node.close()


async def test_ops_reads_stream_info_but_cannot_delete(connect: Connect, secured: EmbeddedNats) -> None:
    node = await Bus.connect(secured.url, credentials=secured.auth.path("actor-node"))
    try:
        await node.ensure_streams()
        ops = await connect("ops")
        info = await ops.nc.jetstream().stream_info("LOREWEAVE")
        assert info.config.name == "LOREWEAVE"
        with pytest.raises((NatsTimeoutError, asyncio.TimeoutError)):
            await ops.nc.jetstream().delete_stream("LOREWEAVE")
        await ops.refused("publish", "$JS.API.STREAM.DELETE.LOREWEAVE")
    finally:
        await node.close()


async def test_a_game_server_of_world_a_stays_out_of_world_b(connect: Connect, secured: EmbeddedNats) -> None:
    from loreweave.cli.auth import create_credential, revoke_credential
    from loreweave.config import load_settings

    a, b = "wa" + uuid.uuid4().hex[:8], "wb" + uuid.uuid4().hex[:8]
    name = "gs-" + a
    create_credential(load_settings({"LOREWEAVE_DATA_DIR": str(secured.data_dir.parent)}), "game-server", name, [a])
    try:
        game = await eventually(lambda: _try_connect(connect, name), timeout=10, message="reload not applied")
        admin = await connect("admin")
        seen = await watch(admin, "lw.*.player.joined")
        await game.nc.publish(f"lw.{b}.player.joined", b"intruder")
        await game.refused("publish", f"lw.{b}.player.joined")
        await game.nc.publish(f"lw.{b}.world.closed", b"wipe world B")
        await game.refused("publish", f"lw.{b}.world.closed")
        await game.nc.subscribe(f"lw.{b}.>")
        await game.refused("subscription", f"lw.{b}.>")
        await game.nc.publish(f"lw.rpc.{b}.payment.refund", b"refund me")
        await game.refused("publish", f"lw.rpc.{b}.payment.refund")
        await game.nc.publish(f"lw.{a}.player.joined", b"home")
        await eventually(lambda: seen, message="world A's event did not arrive")
        assert seen == [f"lw.{a}.player.joined"]
    finally:
        revoke_credential(load_settings({"LOREWEAVE_DATA_DIR": str(secured.data_dir.parent)}), name)


async def _try_connect(connect: Connect, name: str) -> Any:
    try:
        return await connect(name)
    except Exception:
        return None


@pytest.mark.parametrize("subject", ["lw.{w}.player.joined", "lw.{w}.world.closed", "lw.{w}.world.flag_set",
                                     "lw.rpc.{w}.settings.update", "lw.rpc.{w}.payment.refund"])
async def test_a_designer_publishes_no_game_event_nor_request(connect: Connect, world: str, subject: str) -> None:
    designer = await connect("designer")
    await designer.nc.publish(subject.format(w=world), b"forged")
    await designer.refused("publish", subject.format(w=world))


async def test_a_designer_reads_the_story_and_asks_the_kb_but_not_purchases(connect: Connect, world: str) -> None:
    designer, admin = await connect("designer"), await connect("admin")
    seen: list[str] = []

    async def keep(msg: Any) -> None:
        seen.append(msg.subject)

    await designer.nc.subscribe("lw.*.narrative.>", cb=keep)
    await designer.nc.subscribe(f"lw.{world}.payment.>", cb=keep)
    await designer.refused("subscription", f"lw.{world}.payment.>")
    await admin.nc.publish(f"lw.{world}.payment.succeeded", b"purchase")
    await admin.nc.publish(f"lw.rpc.narrative.{world}.beat", b"a request of a world named narrative")
    await admin.nc.publish(f"lw.{world}.narrative.beat", b"story")
    await eventually(lambda: seen)
    assert seen == [f"lw.{world}.narrative.beat"]
    with pytest.raises(NoRespondersError):  # allowed: only nobody answers the kb here
        await designer.nc.request(f"lw.rpc.{world}.kb.search", b"q", timeout=2)


async def test_an_actor_node_answers_a_game_servers_request_and_refuses_others(
    secured: EmbeddedNats, world: str
) -> None:
    node_bus = await Bus.connect(secured.url, name="test-secured-node", credentials=secured.auth.path("actor-node"))
    node = ActorNode(node_bus, list(build_actors(["settings"], 0)))
    await node.start()
    game = await Bus.connect(secured.url, credentials=secured.auth.path("game-server"))
    designer = await Bus.connect(secured.url, credentials=secured.auth.path("designer"))
    try:
        changed: list[Any] = []

        async def keep(msg: Any) -> None:
            changed.append(game.decode(msg.data, msg.subject))

        await game.nc.subscribe(f"lw.{world}.settings.changed", cb=keep)
        await game.sync()
        reply = await game.request(frame_for(SettingsUpdate(changes={"npc_chatter": 0.25}), world, "game"))
        assert reply.payload.settings.npc_chatter == 0.25
        await eventually(lambda: changed, message="the actor's settings.changed did not reach the game server")
        await game.publish(frame_for(PlayerJoined(player_id="p1", name="Ada"), world, "game"), durable=True)
        with pytest.raises(RequestError) as refused:
            await designer.request(frame_for(SettingsUpdate(changes={"npc_chatter": 1.0}), world, "designer"), 1)
        assert refused.value.code == "timeout" and "permissions violation" in designer.last_error.lower()
        current = await game.request(frame_for(SettingsGet(), world, "game"))
        assert current.payload.settings.npc_chatter == 0.25
    finally:
        await designer.close()
        await game.close()
        await node.stop()


async def test_the_ai_layer_keeps_its_shared_caps_and_answers_ai_requests_only(
    connect: Connect, secured: EmbeddedNats, world: str
) -> None:
    from loreweave.serve.shared_limits import SharedQuotas
    from loreweave.serve.tiers import WorldSettings

    ai = await Bus.connect(secured.url, credentials=secured.auth.path("ai"))
    try:
        quotas = await SharedQuotas.open(ai.js)  # creates the LW_AI_CAPS bucket, then compare-and-set
        reservation = await quotas.admit(world, "p1", WorldSettings(tokens_per_day=100), 30)
        await quotas.settle(reservation, 20)
        assert await quotas.used_today(world) == 20

        async def answer(msg: Any) -> None:
            await msg.respond(b"a line")

        await ai.nc.subscribe("lw.ai.generate-security", cb=answer)
        await ai.nc.subscribe(f"lw.rpc.{world}.payment.purchase", cb=answer)
        await ai.sync()
        assert "permissions violation for subscription" in ai.last_error.lower()
        node = await connect("actor-node")
        assert (await node.nc.request("lw.ai.generate-security", b"say", timeout=2)).data == b"a line"
        with pytest.raises(NoRespondersError):
            await node.nc.request(f"lw.rpc.{world}.payment.purchase", b"card", timeout=2)
        with pytest.raises((NatsTimeoutError, asyncio.TimeoutError)):
            await ai.js.delete_stream("LOREWEAVE")
    finally:
        await ai.close()
