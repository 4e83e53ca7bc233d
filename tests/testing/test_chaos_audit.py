"""The chaos audit counts what was lost and what was doubled, frame by frame, without netting them out."""

from __future__ import annotations

import json
from typing import Any

from loreweave.testing.chaos.audit import StreamFrame, audit_journal, audit_payments, audit_quests
from loreweave.testing.chaos.report import ChaosReport, ScenarioResult
from loreweave.testing.chaos.rig import OBJECTIVE_ID
from loreweave.testing.chaos.workload import GameServer, Purchase, SentFrame

WORLD = "w1"


class Rows:
    """An asyncpg pool stand-in: ``fetch`` answers by the table the query reads."""

    def __init__(self, **tables: list[dict[str, Any]]) -> None:
        self.tables = tables

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        table = next(name for name in self.tables if f"FROM {name}" in sql)
        return self.tables[table]


def server_with(collected: dict[str, int]) -> GameServer:
    server = GameServer(bus=None, world=WORLD)  # type: ignore[arg-type]  # the audit never publishes
    seq = 0
    for player, count in collected.items():
        for index in range(count):
            seq += 1
            server.collected.append(SentFrame(f"{player}-{index}", seq, "player.collected", player))
    return server


def progressed(server: GameServer, skip: set[str] = frozenset(), twice: set[str] = frozenset()) -> list[StreamFrame]:
    frames = []
    for sent in server.collected:
        for copy in range(0 if sent.id in skip else 2 if sent.id in twice else 1):
            frames.append(StreamFrame(1000 + len(frames), f"qp-{sent.id}-{copy}", "quest.progressed", sent.id, {}))
    return frames


def progress(**players: int) -> list[dict[str, Any]]:
    return [{"player": p, "progress": json.dumps({OBJECTIVE_ID: n})} for p, n in players.items()]


async def test_a_player_with_one_frame_lost_and_one_applied_twice_shows_both() -> None:
    server = server_with({"p0": 4, "p1": 4})
    stream = progressed(server, skip={"p0-2"}, twice={"p1-1"})
    details: list[str] = []
    state, emitted = await audit_quests(Rows(quest_state=progress(p0=3, p1=5)), server, stream, details)
    assert (state.sent, state.applied, state.lost, state.doubled) == (8, 8, 1, 1)
    assert (emitted.lost, emitted.doubled) == (0, 1)
    assert any("p0 progress 3 for 4" in line and "seq 3 (p0-2)" in line for line in details), details
    assert any("stored 2 times" in line for line in details), details


async def test_an_applied_frame_never_announced_is_an_emitted_loss() -> None:
    server = server_with({"p0": 3})
    details: list[str] = []
    state, emitted = await audit_quests(Rows(quest_state=progress(p0=3)), server,
                                        progressed(server, skip={"p0-0"}), details)
    assert (state.lost, state.doubled, emitted.sent, emitted.applied, emitted.lost) == (0, 0, 3, 2, 1)


async def test_payments_count_missing_charges_and_events_stored_twice() -> None:
    server = server_with({})
    for key in ("k-paid", "k-pending"):
        server.purchases[key] = Purchase(key, "p0", "reed-boat", 999, attempts=1, receipt=object())  # type: ignore[arg-type]
    intents = [
        {"idempotency_key": f"{WORLD}:k-paid", "purchase_id": "pur_1", "status": "completed", "amount_minor": 999,
         "grants": 1},
        {"idempotency_key": f"{WORLD}:k-pending", "purchase_id": "pur_2", "status": "pending", "amount_minor": 999,
         "grants": 0},
    ]
    stream = [StreamFrame(1, "a", "payment.succeeded", None, {"purchase_id": "pur_1"}),
              StreamFrame(2, "b", "payment.succeeded", None, {"purchase_id": "pur_1"}),
              StreamFrame(3, "c", "payment.entitlement_granted", None, {"purchase_id": "pur_1"})]
    details: list[str] = []
    (ledger_row, events_row), check = await audit_payments(Rows(purchase_intents=intents), server, stream, details)
    assert (ledger_row.sent, ledger_row.applied, ledger_row.lost, ledger_row.doubled) == (2, 1, 1, 0)
    assert (events_row.sent, events_row.lost, events_row.doubled) == (2, 0, 1)
    assert not check.ok and check.ledger_cents == 999 and check.expected_cents == 1998
    assert any("k-pending never completed (pending" in line for line in details), details

    journal = await audit_journal(Rows(event_journal=[{"frame_id": "a", "type": "payment.succeeded", "text": None}]),
                                  server, stream, details)
    assert (journal.sent, journal.applied, journal.lost) == (2, 1, 1)

    result = ScenarioResult("s", "d", [ledger_row, events_row, journal], check)
    assert ChaosReport([result]).final_line() == "lost 2, doubled 1"
