"""Reading the ground truth after a scenario and comparing it with what the game server sent.

- quests: each player's ``quest_state`` progress counts the ``player.collected`` frames applied;
  the ``quest.progressed`` frames in the stream name (by causation id) which frames they were.
- payments: ``purchase_intents`` and ``entitlements`` per purchase key; ``payment.succeeded`` and
  ``payment.entitlement_granted`` in the stream per purchase id.
- journal: an ``event_journal`` row per frame the stream holds on a journaled subject.

Counts never net out: a player with one frame lost and another applied twice shows both.
"""

from __future__ import annotations

import collections
import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from loreweave.actors.runtime import Bus
from loreweave.actors.runtime.bus import EVENTS_STREAM
from loreweave.protocol import FrameError
from loreweave.testing.chaos.report import LedgerCheck, Row
from loreweave.testing.chaos.rig import OBJECTIVE_ID, QUEST_ID
from loreweave.testing.chaos.workload import GameServer, SentFrame

#: Event types whose frames the journal keeps (its subjects, for one world).
JOURNALED_TYPES = ("npc.said", "quest.accepted", "quest.completed", "quest.failed", "payment.succeeded",
                   "payment.refunded")
#: At most this many frames are named per kind of loss.
NAMED = 8


@dataclass(frozen=True)
class StreamFrame:
    """A frame as the stream stored it."""

    seq: int
    id: str
    type: str
    causation_id: str | None
    payload: Any


async def read_stream(bus: Bus, world: str, types: tuple[str, ...]) -> list[StreamFrame]:
    """Every stored frame of ``world`` of the given types, in stream order (narrative.* always included)."""
    subjects = [f"lw.{world}.narrative.*", *(f"lw.{world}.{kind}" for kind in types)]
    name = "chaos-audit-" + uuid.uuid4().hex[:10]
    info = await bus.js.add_consumer(EVENTS_STREAM, ConsumerConfig(
        name=name, filter_subjects=subjects, ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL,
        inactive_threshold=60.0,
    ))
    total, received = int(info.num_pending), 0
    frames: list[StreamFrame] = []
    pull = await bus.js.pull_subscribe_bind(consumer=name, stream=EVENTS_STREAM)
    try:
        while received < total:
            msgs = await pull.fetch(min(1000, total - received), timeout=10.0)
            received += len(msgs)
            for msg in msgs:
                try:
                    frame = bus.decode(msg.data)
                except FrameError:
                    continue
                payload = frame.payload.to_wire() if hasattr(frame.payload, "to_wire") else frame.payload
                frames.append(StreamFrame(msg.metadata.sequence.stream, frame.id, frame.type, frame.causation_id,
                                          payload))
    finally:
        await pull.unsubscribe()
        await bus.js.delete_consumer(EVENTS_STREAM, name)
    return frames


def _seqs(frames: list[SentFrame]) -> str:
    named = ", ".join(f"seq {frame.seq} ({frame.id})" for frame in frames[:NAMED])
    return named + (f" and {len(frames) - NAMED} more" if len(frames) > NAMED else "")


async def audit_quests(pool: asyncpg.Pool, server: GameServer, stream: list[StreamFrame],
                       details: list[str]) -> list[Row]:
    """The quests actor: progress rows, then the ``quest.progressed`` frames that announce them."""
    records = await pool.fetch("SELECT player, progress::text AS progress FROM quest_state"
                               " WHERE world = $1 AND quest_id = $2", server.world, QUEST_ID)
    applied = {r["player"]: int(json.loads(r["progress"]).get(OBJECTIVE_ID, 0)) for r in records}
    sent: dict[str, list[SentFrame]] = collections.defaultdict(list)
    for frame in server.collected:
        sent[frame.player].append(frame)
    progressed: dict[str, list[StreamFrame]] = collections.defaultdict(list)
    for frame in stream:
        if frame.type == "quest.progressed" and frame.causation_id:
            progressed[frame.causation_id].append(frame)

    lost = doubled = emitted_lost = emitted_doubled = announced = 0
    for player in sorted(set(sent) | set(applied)):
        frames = sent.get(player, [])
        count = applied.get(player, 0)
        unannounced = [frame for frame in frames if not progressed.get(frame.id)]
        player_lost, player_doubled = max(0, len(frames) - count), max(0, count - len(frames))
        lost, doubled = lost + player_lost, doubled + player_doubled
        if player_lost or player_doubled:
            what = f"{player_lost} lost" if player_lost else f"{player_doubled} applied twice"
            details.append(f"quests: {player} progress {count} for {len(frames)} player.collected sent ({what});"
                           f" frames without a quest.progressed: {_seqs(unannounced) or 'none'}")
        # The announcements: one quest.progressed per frame the state counts.
        announced_frames = len(frames) - len(unannounced)
        announced += announced_frames
        missing = max(0, min(count, len(frames)) - announced_frames)
        emitted_lost += missing
        if missing and not player_lost:
            details.append(f"quests: {player}: {missing} applied player.collected never announced"
                           f" (no quest.progressed): {_seqs(unannounced)}")
        for frame in frames:
            copies = progressed.get(frame.id, [])
            if len(copies) > 1:
                emitted_doubled += len(copies) - 1
                details.append(f"quests: quest.progressed for player.collected seq {frame.seq} ({frame.id})"
                               f" stored {len(copies)} times: seq {', '.join(str(c.seq) for c in copies)}")
    return [
        Row("quests", len(server.collected), sum(applied.values()), lost, doubled, "quest_state progress"),
        Row("quests: quest.progressed", sum(min(applied.get(p, 0), len(f)) for p, f in sent.items()), announced,
            emitted_lost, emitted_doubled, "LOREWEAVE stream, by causation id"),
    ]


async def audit_payments(pool: asyncpg.Pool, server: GameServer, stream: list[StreamFrame],
                         details: list[str]) -> tuple[list[Row], LedgerCheck]:
    """The payments actor: one completed intent and entitlement per key, its two events once each."""
    records = await pool.fetch(
        "SELECT i.idempotency_key, i.purchase_id, i.status, i.amount_minor,"
        " (SELECT count(*) FROM entitlements e WHERE e.intent_id = i.intent_id) AS grants"
        " FROM purchase_intents i WHERE i.world = $1", server.world)
    by_key: dict[str, list[Any]] = collections.defaultdict(list)
    for record in records:
        by_key[record["idempotency_key"].removeprefix(f"{server.world}:")].append(record)
    events: dict[tuple[str, str], list[StreamFrame]] = collections.defaultdict(list)
    for frame in stream:
        if frame.type in ("payment.succeeded", "payment.entitlement_granted"):
            events[(frame.type, str(frame.payload.get("purchase_id")))].append(frame)

    lost = doubled = charged_once = completed = receipts = ev_lost = ev_doubled = ev_found = 0
    once = {"payment.succeeded": 0, "payment.entitlement_granted": 0}
    ledger_cents = expected_cents = 0
    for key, purchase in sorted(server.purchases.items()):
        expected_cents += purchase.amount_cents
        done = [r for r in by_key.get(key, []) if r["status"] == "completed"]
        grants = sum(r["grants"] for r in done)
        receipts += purchase.receipt is not None
        ledger_cents += sum(r["amount_minor"] for r in done)
        if len(done) == 1 and grants == 1:
            charged_once += 1
        if not done:
            lost += 1
            states = ", ".join(r["status"] for r in by_key.get(key, [])) or "no intent"
            details.append(f"payments: key {key} never completed ({states}; {purchase.attempts} requests,"
                           f" last error {purchase.error or 'none'})")
            continue
        if purchase.receipt is None:
            lost += 1
            details.append(f"payments: key {key} completed but the game server got no receipt"
                           f" ({purchase.attempts} requests, last error {purchase.error or 'none'})")
        doubled += (len(done) - 1) + max(0, grants - 1)
        completed += 1
        purchase_id = done[0]["purchase_id"]
        for kind in once:
            copies = events.get((kind, purchase_id), [])
            ev_found += min(1, len(copies))
            once[kind] += len(copies) == 1
            if not copies:
                ev_lost += 1
                details.append(f"payments: no {kind} in the stream for {purchase_id} (key {key})")
            elif len(copies) > 1:
                ev_doubled += len(copies) - 1
                details.append(f"payments: {kind} for {purchase_id} stored {len(copies)} times:"
                               f" seq {', '.join(str(c.seq) for c in copies)} (ids {', '.join(c.id for c in copies)})")
    check = LedgerCheck(
        keys=len(server.purchases), charged_once=charged_once, completed=completed,
        succeeded_once=once["payment.succeeded"], granted_once=once["payment.entitlement_granted"],
        ledger_cents=ledger_cents, expected_cents=expected_cents, receipts=receipts,
    )
    rows = [
        Row("payments", len(server.purchases), completed, lost, doubled, "purchase_intents + entitlements"),
        Row("payments: events", 2 * completed, ev_found, ev_lost, ev_doubled,
            "payment.succeeded + entitlement_granted in the stream"),
    ]
    return rows, check


async def audit_journal(pool: asyncpg.Pool, server: GameServer, stream: list[StreamFrame],
                        details: list[str]) -> Row:
    """The journal actor: a row per frame on a journaled subject, and no story line twice."""
    records = await pool.fetch("SELECT frame_id, type, payload->>'text' AS text FROM event_journal WHERE world = $1",
                               server.world)
    journaled = {r["frame_id"] for r in records}
    expected = {frame.id: frame for frame in stream
                if frame.type.startswith("narrative.") or frame.type in JOURNALED_TYPES}
    for frame in server.story:  # what the game server sent counts even if the stream lost it
        expected.setdefault(frame.id, StreamFrame(frame.seq, frame.id, frame.type, None, {}))
    missing = sorted((frame for frame in expected.values() if frame.id not in journaled), key=lambda f: f.seq)
    texts = collections.Counter((r["type"], r["text"]) for r in records if r["text"])
    doubled = sum(count - 1 for count in texts.values() if count > 1)
    if missing:
        kinds = collections.Counter(frame.type for frame in missing)
        named = ", ".join(f"{f.type} seq {f.seq} ({f.id})" for f in missing[:NAMED])
        details.append(f"journal: {len(missing)} frames never journaled"
                       f" ({', '.join(f'{n} {t}' for t, n in sorted(kinds.items()))}): {named}"
                       + (f" and {len(missing) - NAMED} more" if len(missing) > NAMED else ""))
    for (kind, text), count in sorted(texts.items()):
        if count > 1:
            details.append(f"journal: {kind} {text!r} journaled {count} times")
    return Row("journal", len(expected), len(expected) - len(missing), len(missing), doubled, "event_journal")
