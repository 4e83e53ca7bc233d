"""The payment ledger and quest tables keep their promises on their own."""

from __future__ import annotations

import json

import asyncpg
import pytest

from loreweave.db import QuestRow
from loreweave.db import quests as quest_rows

INTENT = (
    "INSERT INTO purchase_intents (idempotency_key, world, player, sku, amount_minor, currency)"
    " VALUES ($1, 'w1', 'p1', 'sword', $2, 'EUR')"
    " ON CONFLICT (idempotency_key) DO NOTHING RETURNING intent_id"
)


async def test_a_purchase_intent_is_idempotent_by_key(pool: asyncpg.Pool) -> None:
    first = await pool.fetchval(INTENT, "order-1", 500)
    again = await pool.fetchval(INTENT, "order-1", 500)

    assert first is not None and again is None
    assert await pool.fetchval("SELECT count(*) FROM purchase_intents") == 1


async def test_refunds_and_grants_follow_the_intent(pool: asyncpg.Pool) -> None:
    intent = await pool.fetchval(INTENT, "order-2", 1000)
    grant = "INSERT INTO entitlements (intent_id, world, player, sku, quantity) VALUES ($1, 'w1', 'p1', 'sword', 1)"
    refund = "INSERT INTO refunds (idempotency_key, intent_id, amount_minor) VALUES ($1, $2, $3)"

    with pytest.raises(asyncpg.CheckViolationError, match="not completed"):
        await pool.execute(grant, intent)
    await pool.execute("UPDATE purchase_intents SET status = 'completed' WHERE intent_id = $1", intent)
    await pool.execute(grant, intent)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(grant, intent)

    await pool.execute(refund, "refund-1", intent, 600)
    with pytest.raises(asyncpg.CheckViolationError, match="1100 of 1000"):
        await pool.execute(refund, "refund-2", intent, 500)
    await pool.execute(refund, "refund-3", intent, 400)

    with pytest.raises(asyncpg.CheckViolationError, match="final"):
        await pool.execute("UPDATE purchase_intents SET status = 'failed' WHERE intent_id = $1", intent)
    with pytest.raises(asyncpg.CheckViolationError, match="terms"):
        await pool.execute("UPDATE purchase_intents SET amount_minor = 1 WHERE intent_id = $1", intent)

    balance = await pool.fetchrow("SELECT paid_minor, refunded_minor, net_minor FROM player_balances WHERE player = 'p1'")
    assert tuple(balance) == (1000, 1000, 0)


async def test_quest_state_is_upserted_per_world_quest_and_player(pool: asyncpg.Pool) -> None:
    upsert = (
        "INSERT INTO quest_state (world, quest_id, player, state, progress) VALUES ('w1', 'wolves', $1, $2, $3::jsonb)"
        " ON CONFLICT (world, quest_id, player) DO UPDATE"
        " SET state = EXCLUDED.state, progress = EXCLUDED.progress, updated_at = now()"
    )
    await pool.execute(upsert, "p1", "active", json.dumps({"wolves": 1}))
    await pool.execute(upsert, "p1", "active", json.dumps({"wolves": 3}))
    await pool.execute(upsert, "p2", "offered", "{}")

    rows = await pool.fetch("SELECT player, state, progress::text FROM quest_state ORDER BY player")
    assert [(r["player"], r["state"], json.loads(r["progress"])) for r in rows] == [
        ("p1", "active", {"wolves": 3}), ("p2", "offered", {})
    ]


async def test_many_players_quests_are_read_and_written_in_one_statement_each(pool: asyncpg.Pool) -> None:
    rows = [QuestRow(world="w1", player=p, quest_id=q, state=s, progress={"o": 1}, deadline=d)
            for p, q, s, d in [("p1", "a", "active", 90), ("p1", "b", "completed", None), ("p2", "a", "active", None)]]
    await quest_rows.save_quests(pool, rows)
    async with pool.acquire() as conn, conn.transaction():
        found = await quest_rows.active_quests_of(conn, [("w1", "p1"), ("w1", "p2"), ("w1", "p3"), ("w2", "p1")])
    assert {key: [(r.quest_id, r.deadline) for r in value] for key, value in found.items()} == {
        ("w1", "p1"): [("a", 90)], ("w1", "p2"): [("a", None)], ("w1", "p3"): [], ("w2", "p1"): []}
    changed = [QuestRow(world="w1", player="p1", quest_id="a", state="failed", progress={"o": 2}, failure="timeout")]
    await quest_rows.save_quests(pool, changed)
    assert [(r.quest_id, r.state, r.progress, r.failure) for r in await quest_rows.player_quests(pool, "w1", "p1")] == [
        ("a", "failed", {"o": 2}, "timeout"), ("b", "completed", {"o": 1}, None)]
