"""The issue's attacks by every role that is not an actor node, and payments end to end under auth:
each attack refused by the server, the legitimate path working for the role it belongs to."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from nats.errors import NoRespondersError
from nats.js.api import ConsumerConfig

from loreweave.actors.payments import LocalTestProvider, Payments
from loreweave.actors.runtime import ActorNode, Bus, RequestError, frame_for
from loreweave.embedded import EmbeddedNats
from loreweave.schemas import PaymentGetLedger, PaymentPurchase, PaymentRefund
from loreweave.testing import eventually

from .conftest import Connect

#: Roles that are clients of the world, never its actors.
CLIENT_ROLES = ("game-server", "designer", "ai", "ops")
#: The stream admin an attacker used: listing, purging and deleting both streams and a consumer.
STREAM_ATTACKS = (
    "$JS.API.STREAM.DELETE.LOREWEAVE", "$JS.API.STREAM.PURGE.LOREWEAVE", "$JS.API.STREAM.DELETE.LOREWEAVE_DLQ",
    "$JS.API.STREAM.PURGE.LOREWEAVE_DLQ", "$JS.API.CONSUMER.DELETE.LOREWEAVE.quests-attacked",
)


@pytest.fixture
def world() -> str:
    return "t" + uuid.uuid4().hex[:12]


@pytest.mark.parametrize("role", CLIENT_ROLES)
async def test_no_client_role_spies_forges_answers_or_wrecks_the_streams(
    connect: Connect, secured: EmbeddedNats, world: str, role: str
) -> None:
    node = await Bus.connect(secured.url, credentials=secured.auth.path("actor-node"))
    try:
        await node.ensure_streams()
        await node.js.add_consumer("LOREWEAVE", ConsumerConfig(durable_name="quests-attacked",
                                                               filter_subject="lw.*.quest.*"))
        attacker, admin = await connect(role), await connect("admin")
        seen: list[str] = []

        async def keep(msg: Any) -> None:
            seen.append(msg.subject)

        await admin.nc.subscribe(f"lw.{world}.>", cb=keep)
        await admin.nc.flush()
        for pattern in (">", f"lw.rpc.{world}.payment.purchase", "lw.rpc.>"):
            await attacker.nc.subscribe(pattern, cb=keep)
            await attacker.refused("subscription", pattern)
        for event in ("payment.succeeded", "payment.refunded", "world.flag_set", "settings.changed"):
            await attacker.nc.publish(f"lw.{world}.{event}", b"forged")
            await attacker.refused("publish", f"lw.{world}.{event}")
        for api in STREAM_ATTACKS:
            await attacker.nc.publish(api, b"{}", reply=attacker.nc.new_inbox())
            await attacker.refused("publish", api)
        # The streams, the consumer and durable publishing are as they were.
        assert (await node.js.consumer_info("LOREWEAVE", "quests-attacked")).name == "quests-attacked"
        assert (await node.js.stream_info("LOREWEAVE_DLQ")).config.name == "LOREWEAVE_DLQ"
        ack = await node.js.publish(f"lw.{world}.quest.started", b"an actor's own event")
        assert ack.stream == "LOREWEAVE"
        await eventually(lambda: f"lw.{world}.quest.started" in seen)
        assert seen == [f"lw.{world}.quest.started"], "a forged event or a spied one got through"
    finally:
        await node.js.delete_consumer("LOREWEAVE", "quests-attacked")
        await node.close()


async def _scoped_game_server(secured: EmbeddedNats, name: str, world: str) -> Bus:
    secured.auth.create(name, "game-server", [world])
    secured.auth.reload()

    async def connected() -> Bus | None:
        try:
            return await Bus.connect(secured.url, credentials=secured.auth.path(name), wait_s=1)
        except Exception:
            return None

    return await eventually(connected, timeout=10, message=f"the server did not accept {name} after its reload")


@pytest.mark.slow
async def test_only_the_worlds_game_server_buys_and_refunds(secured: EmbeddedNats, database: Any, world: str) -> None:
    other = "o" + uuid.uuid4().hex[:12]
    node = ActorNode(await Bus.connect(secured.url, credentials=secured.auth.path("actor-node")),
                     [Payments(provider=LocalTestProvider())], database=database)
    await node.start()
    names = [f"gs-{world}", f"gs-{other}"]
    clients: list[Bus] = []
    try:
        game = await _scoped_game_server(secured, names[0], world)
        elsewhere = await _scoped_game_server(secured, names[1], other)
        clients += [game, elsewhere]
        for role in ("designer", "ai", "ops"):
            clients.append(await Bus.connect(secured.url, credentials=secured.auth.path(role)))
        designer, ai, ops = clients[2:]

        buy = PaymentPurchase(purchase_key="ann-0001", player_id="ann", sku="reed-boat")
        receipt = (await game.request(frame_for(buy, world, "game"), 5)).payload
        assert receipt.status == "succeeded"
        refund = PaymentRefund(purchase_id=receipt.purchase_id, reason="attacker")
        for intruder in (elsewhere, designer, ai, ops):
            with pytest.raises(RequestError) as refused:
                await intruder.request(frame_for(refund, world, "attacker"), 1)
            assert refused.value.code == "timeout" and "permissions violation" in intruder.last_error.lower()
            with pytest.raises(RequestError):
                await intruder.request(frame_for(
                    PaymentPurchase(purchase_key=f"mal-{uuid.uuid4().hex[:6]}", player_id="mallory", sku="reed-boat"),
                    world, "attacker"), 1)
        ledger = (await game.request(frame_for(PaymentGetLedger(), world, "game"), 5)).payload
        assert [e.kind for e in ledger.entries] == ["charge"], "an intruder's refund or purchase went through"
        assert (await game.request(frame_for(refund, world, "game"), 5)).payload.status == "refunded"
    finally:
        for client in clients:
            await client.close()
        await node.stop()
        for name in names:
            if secured.auth.path(name).exists():
                secured.auth.revoke(name)
        secured.auth.reload()


async def test_nobody_but_an_actor_node_answers_a_purchase(connect: Connect, world: str) -> None:
    game = await connect("game-server")

    async def fake(msg: Any) -> None:
        await msg.respond(b"fake receipt")

    async def real(msg: Any) -> None:
        await msg.respond(b"receipt")

    for role in CLIENT_ROLES:
        rogue = await connect(role)
        await rogue.nc.subscribe(f"lw.rpc.{world}.payment.purchase", cb=fake)
        await rogue.refused("subscription", f"lw.rpc.{world}.payment.purchase")
    with pytest.raises(NoRespondersError):
        await game.nc.request(f"lw.rpc.{world}.payment.purchase", b"card", timeout=2)
    node = await connect("actor-node")
    await node.nc.subscribe(f"lw.rpc.{world}.payment.purchase", cb=real)
    await node.nc.flush()
    assert (await game.nc.request(f"lw.rpc.{world}.payment.purchase", b"card", timeout=2)).data == b"receipt"
