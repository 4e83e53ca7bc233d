"""The payment ledger and quest tables keep their promises on their own."""

from __future__ import annotations

import json

import asyncpg
import pytest

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
