"""Exactly-once against real NATS and PostgreSQL: frames lost in transit are re-read, emitted
frames never share an id, and a committed outcome's events survive a lost publish."""

from __future__ import annotations

from typing import Any

import pytest
from nats.errors import TimeoutError as NatsTimeoutError

from loreweave.actors.payments import LocalTestProvider, Payments
from loreweave.actors.runtime import EVENTS_STREAM, Actor, Bus, Context, frame_for, on
from loreweave.actors.runtime.persistence import PersistentRunner
from loreweave.protocol import encode_frame, frame_headers
from loreweave.schemas import NpcSaid, PaymentPurchase, PlayerMoved

from .conftest import eventually
from .persistent_counter import EFFECTS_TABLE, counter_actor


@pytest.fixture
async def effects_table(database) -> None:
    await database.pool.execute(EFFECTS_TABLE)


class LossyPull:
    """A pull subscription whose fetched frames at some stream sequences vanish once, as in a cut
    connection; ``lose`` and ``lost`` are shared by the subscriptions of one test."""

    def __init__(self, pull: Any, lose: set[int], lost: list[int]) -> None:
        self.pull = pull
        self.lose = lose
        self.lost = lost

    async def fetch(self, batch: int, timeout: float) -> list[Any]:
        msgs = await self.pull.fetch(batch, timeout=timeout)
        kept = []
        for msg in msgs:
            seq = msg.metadata.sequence.stream
            if seq in self.lose:
                self.lose.discard(seq)
                self.lost.append(seq)
            else:
                kept.append(msg)
        return kept

    async def unsubscribe(self) -> None:
        await self.pull.unsubscribe()


async def stored_count(bus: Bus, subject: str) -> int:
    """How many frames the events stream holds on ``subject``."""
    info = await bus.js.stream_info(EVENTS_STREAM, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def test_frames_lost_in_transit_are_read_again_never_skipped(
    bus, start_node, world, database, effects_table, monkeypatch
) -> None:
    seqs = []
    for value in range(100):
        frame = frame_for(PlayerMoved(player_id=f"p{value % 3}", region=str(value)), world, "test")
        ack = await bus.js.publish(frame.subject, encode_frame(frame), headers=frame_headers(frame))
        seqs.append(ack.seq)
    # Three frames inside a batch, and the last three (a lost tail: nothing comes after them).
    lose, lost = set(seqs[40:43] + seqs[97:]), []
    subscribe = PersistentRunner._subscribe

    async def lossy_subscribe(self: PersistentRunner) -> Any:
        return LossyPull(await subscribe(self), lose, lost)

    monkeypatch.setattr(PersistentRunner, "_subscribe", lossy_subscribe)
    actor = counter_actor(world)
    await start_node(actor, database=database)
    await eventually(lambda: actor.state.count == 100, timeout=20)
    assert sorted(lost) == sorted(seqs[40:43] + seqs[97:])
    assert actor.state.total == sum(range(100)) and actor.state.out_of_order == 0
    assert await database.pool.fetchval("SELECT count(*) FROM counter_effects") == 100
    snapshot = await database.state.load_snapshot(actor.name)
    assert snapshot is not None and snapshot.stream_seq == seqs[-1]


def echoing(name: str, world: str) -> Actor:
    """An actor whose two handlers each answer a move with an NPC line."""

    class Echo(Actor):
        @on(f"lw.{world}.player.moved")
        async def first(self, event: PlayerMoved, ctx: Context) -> None:
            await ctx.emit(NpcSaid(npc_id=f"{self.name}-first", text="one", to_player=event.player_id))

        @on(f"lw.{world}.player.>")
        async def second(self, event: PlayerMoved, ctx: Context) -> None:
            await ctx.emit(NpcSaid(npc_id=f"{self.name}-second", text="two", to_player=event.player_id))

    Echo.name = name
    return Echo()


async def test_handlers_and_actors_reacting_to_one_frame_never_share_an_id(bus, start_node, world) -> None:
    await start_node(echoing("echo-a", world), echoing("echo-b", world))
    await bus.publish(frame_for(PlayerMoved(player_id="p1", region="ford"), world, "test"), durable=True)
    subject = f"lw.{world}.npc.said"
    # Four lines from one parent frame: JetStream must keep all four.
    await eventually(lambda: _equals(stored_count(bus, subject), 4), timeout=10)


async def _equals(pending: Any, expected: int) -> bool:
    return await pending == expected


class HeldPublishes:
    """Publishes of one bus on some subjects leave the client and never reach the server (a cut
    connection swallows them): a core publish returns, a JetStream publish waits for an ack in vain."""

    def __init__(self, node_bus: Bus, prefix: str) -> None:
        self.held: list[str] = []
        nc, js = node_bus.nc, node_bus.js
        core, jet = nc.publish, js.publish

        async def core_publish(subject: str, payload: bytes = b"", *args: Any, **kwargs: Any) -> None:
            if subject.startswith(prefix):
                self.held.append(subject)
                return
            await core(subject, payload, *args, **kwargs)

        async def js_publish(subject: str, payload: bytes = b"", *args: Any, **kwargs: Any) -> Any:
            if subject.startswith(prefix):
                self.held.append(subject)
                raise NatsTimeoutError
            return await jet(subject, payload, *args, **kwargs)

        nc.publish = core_publish  # type: ignore[method-assign]
        js.publish = js_publish  # type: ignore[method-assign]
        self._restore = (nc, js, core, jet)

    def release(self) -> None:
        """The connection is back: publishes reach the server again."""
        nc, js, core, jet = self._restore
        nc.publish, js.publish = core, jet  # type: ignore[method-assign]


async def test_a_committed_purchase_keeps_its_events_when_the_publish_is_lost(
    bus, start_node, world, database
) -> None:
    first = await start_node(Payments(provider=LocalTestProvider()), database=database)
    held = HeldPublishes(first.bus, f"lw.{world}.payment.")
    buy = PaymentPurchase(purchase_key="ann-lost-1", player_id="ann", sku="glass-charm")
    receipt = (await bus.request(frame_for(buy, world, "game-server"), 5)).payload
    assert receipt.status == "succeeded" and not receipt.replayed
    assert held.held, "the events were not published at all"
    # The node dies (its publishes lost with it); a new one starts on the same database.
    await first.bus.nc.close()
    await start_node(Payments(provider=LocalTestProvider()), database=database)
    again = (await bus.request(frame_for(buy, world, "game-server"), 5)).payload
    assert again.replayed and again.purchase_id == receipt.purchase_id
    await eventually(lambda: _equals(stored_count(bus, f"lw.{world}.payment.succeeded"), 1), timeout=10)
    await eventually(lambda: _equals(stored_count(bus, f"lw.{world}.payment.entitlement_granted"), 1), timeout=10)
    assert await database.pool.fetchval("SELECT count(*) FROM frame_outbox") == 0
    # A third start publishes nothing more.
    await start_node(Payments(provider=LocalTestProvider()), database=database)
    await bus.sync()
    assert await stored_count(bus, f"lw.{world}.payment.succeeded") == 1


async def test_a_quest_accepted_during_an_outage_is_announced_when_the_bus_is_back(
    bus, start_node, world, database
) -> None:
    from loreweave.actors.quests import Quests, load_quests
    from loreweave.actors.catalog import default_quests_dir
    from loreweave.schemas import QuestAccept

    definitions = load_quests(default_quests_dir())
    quest_id = sorted(qid for qid, d in definitions.items() if not d.prerequisites)[0]
    node = await start_node(Quests(definitions), database=database)
    held = HeldPublishes(node.bus, f"lw.{world}.quest.")
    accept = QuestAccept(player_id="ann", quest_id=quest_id)
    status = (await bus.request(frame_for(accept, world, "game-server"), 10)).payload
    assert status.quest.state == "active" and held.held
    # Only this world's rows: with no snapshot the actor also replays the whole shared stream (the
    # worlds earlier tests opened) and stages their frames in the same table while it catches up.
    outbox_rows = "SELECT count(*) FROM frame_outbox WHERE subject LIKE $1"
    assert await database.pool.fetchval(outbox_rows, f"lw.{world}.%") == 1
    held.release()  # no restart: the node publishes what waits in the outbox
    await eventually(lambda: _equals(stored_count(bus, f"lw.{world}.quest.accepted"), 1), timeout=15)
    # The resend deletes a row once JetStream acked it: gone right after the frame is stored.
    await eventually(lambda: _equals(database.pool.fetchval(outbox_rows, f"lw.{world}.%"), 0), timeout=10)
