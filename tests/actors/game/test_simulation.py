"""The simulator against every actor: a short session, the CLI, and a 50-player scenario with invariants."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from click.testing import CliRunner

from loreweave.actors.catalog import ACTORS, build_actors
from loreweave.actors.payments import LocalTestProvider
from loreweave.cli.main import cli
from loreweave.cli.world import run_world
from loreweave.protocol import ConfigError, Frame
from loreweave.schemas import (
    EntitlementGranted,
    EntitlementRevoked,
    NpcGetState,
    NpcMoved,
    PaymentGetLedger,
    PaymentRefunded,
    PaymentSucceeded,
    QuestAccepted,
    QuestCompleted,
    QuestFailed,
    QuestGetJournal,
    RegistryQuery,
    WorldGetSnapshot,
)
from loreweave.simulate import NPCS, simulate

from .conftest import ask, record


async def test_run_world_plays_and_reports(nats_server_url, database) -> None:
    report = await run_world(nats_server_url, ["all"], players=4, minutes=0.04, seed=3, clock_speed=120,
                             think_s=0.2, database=database)
    assert report is not None and report.players == 4
    assert report.sent > 30 and report.reacted > 10 and report.actor_frames > report.reacted
    assert report.handled is not None and report.handled > report.sent
    assert report.narrative > 0 and report.latency_ms.count == report.reacted
    assert report.errors == 0 and report.dead_letters == 0
    assert "reaction latency p99" in {cell for column in report.table().columns for cell in column._cells}

def test_cli_refuses_unknown_actors_by_name() -> None:
    result = CliRunner().invoke(cli, ["run", "--actors", "clock,wheather"])
    assert isinstance(result.exception, ConfigError)
    assert "unknown actor 'wheather'" in str(result.exception) and "weather" in str(result.exception)

@pytest.mark.slow
def test_cli_simulate_prints_a_json_report(nats_server_url, pg_dsn, db_schema) -> None:
    # The quests and payments keep their rows in PostgreSQL: the test's own schema of the test database.
    env = {**os.environ, "LOREWEAVE_NATS_URL": nats_server_url, "LOREWEAVE_LOG_LEVEL": "WARNING",
           "LOREWEAVE_DATABASE_URL": f"{pg_dsn}{'&' if '?' in pg_dsn else '?'}search_path={db_schema},public"}
    done = subprocess.run(
        [sys.executable, "-m", "loreweave", "simulate", "--players", "3", "--minutes", "0.03", "--speed", "120",
         "--think", "0.2", "--json"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["players"] == 3 and report["sent"] > 10 and report["errors"] == 0, (json.dumps({k: v for k, v in report.items() if "err" in k or k in ("sent", "reacted", "requests")}), done.stderr[-3000:])

def chain_is_recorded(frame: Frame, by_id: dict[str, Frame]) -> bool:
    """Whether every cause of ``frame``, up to a root frame, was seen on the bus."""
    seen = 0
    while frame.causation_id is not None:
        cause = by_id.get(frame.causation_id)
        if cause is None or seen > 100:
            return False
        frame, seen = cause, seen + 1
    return True

@pytest.mark.slow
async def test_fifty_players_for_a_few_game_days(bus, nats_server_url, start_node, world, database) -> None:
    actors = build_actors(["all"], seed=7, heartbeat_s=0.5,
                          options={"clock": {"tick_minutes": 15}, "payments": {"provider": LocalTestProvider()}})
    await start_node(*actors, database=database)
    events = await record(bus, f"lw.{world}.*.*")
    requests = await record(bus, f"lw.rpc.{world}.*.*")
    report = await simulate(nats_server_url, players=50, minutes=0.4, seed=7, progress=False, world=world,
                            clock_speed=200, think_s=0.4, close_world=False, handled_wait_s=3)
    days = max(frame.payload.day for frame in events.frames if frame.type == "clock.tick")
    assert days >= 2, "a few game days passed"

    # The session ran cleanly, and every actor took part (qos only hears from AI calls, which are scripted
    # here; the journal sends no heartbeat).
    assert report.dead_letters == 0 and report.actor_failures == 0 and report.agent_errors == 0
    assert set(report.request_errors) <= {"bad_request"} and sum(report.request_errors.values()) <= 5
    taking_part = {entry.actor for entry in (await ask(bus, world, RegistryQuery(kind="actors"))).actors}
    assert taking_part == set(ACTORS) - {"qos", "journal"}
    assert report.quests_completed > 10 and report.purchases > 5 and report.narrative > 100

    # Every quest is open, done or failed, and each acceptance ended at most once.
    accepted = Counter((q.player_id, q.quest_id) for q in events.of(QuestAccepted))
    ended = Counter((q.player_id, q.quest_id) for q in events.of(QuestCompleted) + events.of(QuestFailed))
    for number in range(50):
        player = f"p{number:04d}"
        journal = await ask(bus, world, QuestGetJournal(player_id=player))
        for quest in journal.quests:
            assert quest.state in ("active", "completed", "failed")
            still_open = 1 if quest.state == "active" else 0
            assert accepted[(player, quest.quest_id)] == ended[(player, quest.quest_id)] + still_open

    # The ledger balances: entitlements are the sum of its lines, and match the events.
    ledger = await ask(bus, world, PaymentGetLedger())
    owned: Counter[tuple[str, str]] = Counter()
    for entry in ledger.entries:
        owned[(entry.player_id, entry.sku)] += entry.quantity
    assert {(p, s): n for p, skus in ledger.entitlements.items() for s, n in skus.items()} == dict(owned)
    assert ledger.captured_cents - ledger.refunded_cents == sum(entry.amount_cents for entry in ledger.entries)
    assert len(events.of(PaymentSucceeded)) == sum(entry.kind == "charge" for entry in ledger.entries)
    assert len(events.of(PaymentRefunded)) == sum(entry.kind == "refund" for entry in ledger.entries)
    granted = Counter((e.player_id, e.sku) for e in events.of(EntitlementGranted) for _ in range(e.quantity))
    revoked = Counter((e.player_id, e.sku) for e in events.of(EntitlementRevoked) for _ in range(e.quantity))
    assert {key: granted[key] - revoked[key] for key in granted} == dict(owned)

    # No NPC is ever in two places: each move starts where the last one ended, and every actor agrees.
    where = {npc.npc_id: npc.region for npc in NPCS}
    for move in events.of(NpcMoved):
        assert move.from_region == where[move.npc_id]
        where[move.npc_id] = move.to_region
    assert len(events.of(NpcMoved)) > 20
    facts = (await ask(bus, world, WorldGetSnapshot())).facts
    assert facts.npcs == where
    for npc in NPCS:
        assert (await ask(bus, world, NpcGetState(npc_id=npc.npc_id))).region == where[npc.npc_id]

    # Every narrative frame leads back, cause by cause, to frames seen on the bus.
    by_id = {frame.id: frame for frame in events.frames + requests.frames}
    narrative = [frame for frame in events.frames if frame.type.startswith("narrative.")]
    kinds = Counter(frame.type for frame in narrative)
    assert kinds["narrative.beat"] > 10 and kinds["narrative.ambience"] > 10 and kinds["narrative.hook"] >= 1
    untraced = [frame for frame in narrative if not chain_is_recorded(frame, by_id)]
    assert untraced == []
    assert all(frame.causation_id is not None for frame in narrative)
