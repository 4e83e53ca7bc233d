"""The payment ledger (``purchase_intents``, ``entitlements``, ``refunds``): typed reads and writes.

A purchase is an intent, idempotent by its key: recorded ``pending`` before the provider is
asked, then settled once (``completed`` with its entitlement, or ``failed``) in one
transaction. A refund is a row, idempotent by its key, never above what was paid; the one
that refunds the rest revokes the entitlement. ``announced`` says whether the outcome's
events were published, so a crash between commit and publish is repaired on restart.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, fields
from typing import Any, AsyncIterator, Literal

import asyncpg

from loreweave.db.errors import LedgerError
from loreweave.db.state import Executor

IntentStatus = Literal["pending", "completed", "failed", "cancelled"]

_INTENT = """
SELECT i.intent_id, i.purchase_id, i.idempotency_key, i.world, i.player, i.sku, i.quantity, i.amount_minor,
       i.currency, i.status, i.payment_method, coalesce(i.provider_ref, '') AS provider_ref, i.provider_message,
       i.announced, coalesce(r.refunded, 0)::bigint AS refunded_minor, coalesce(r.reason, '') AS refund_reason
FROM purchase_intents i
LEFT JOIN LATERAL (
    SELECT sum(amount_minor) AS refunded, (array_agg(reason ORDER BY ledger_seq DESC))[1] AS reason
    FROM refunds WHERE refunds.intent_id = i.intent_id
) r ON true
"""


@dataclass(frozen=True, slots=True)
class NewIntent:
    """The terms of a purchase, as recorded before the provider is asked."""

    idempotency_key: str
    purchase_id: str
    world: str
    player: str
    sku: str
    quantity: int
    amount_minor: int
    currency: str
    payment_method: str


@dataclass(frozen=True, slots=True)
class Intent:
    """A purchase intent and what became of it (with the refunds made against it)."""

    intent_id: uuid.UUID
    purchase_id: str
    idempotency_key: str
    world: str
    player: str
    sku: str
    quantity: int
    amount_minor: int
    currency: str
    status: IntentStatus
    payment_method: str
    provider_ref: str
    provider_message: str
    announced: bool
    refunded_minor: int
    refund_reason: str

    @property
    def fully_refunded(self) -> bool:
        """Completed, and refunds add up to what was paid."""
        return self.status == "completed" and self.refunded_minor >= self.amount_minor


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund row."""

    refund_id: uuid.UUID
    idempotency_key: str
    intent_id: uuid.UUID
    amount_minor: int
    reason: str
    provider_ref: str
    announced: bool


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One line of a world's ledger: a charge (positive) or a refund (negative).

    ``seq`` is the line's position in the world's ledger (from 1); ``quantity`` of a
    refund is the entitlement it took back (all of it for the refund that completes it).
    """

    seq: int
    kind: Literal["charge", "refund"]
    purchase_id: str
    player: str
    sku: str
    quantity: int
    amount_minor: int


@contextlib.asynccontextmanager
async def _transaction(executor: Executor) -> AsyncIterator[Any]:
    """A transaction on a pooled connection, or (given a connection) one nested in the caller's."""
    if isinstance(executor, asyncpg.Pool):
        async with executor.acquire() as conn, conn.transaction():
            yield conn
    else:
        async with executor.transaction():
            yield executor


def _intent(record: Any) -> Intent:
    return Intent(**{f.name: record[f.name] for f in fields(Intent)})


def _refund(record: Any) -> Refund:
    return Refund(**{f.name: record[f.name] for f in fields(Refund)})


async def find_intent(conn: Executor, idempotency_key: str) -> Intent | None:
    """The intent recorded under a key, or None."""
    record = await conn.fetchrow(_INTENT + " WHERE i.idempotency_key = $1", idempotency_key)
    return _intent(record) if record is not None else None


async def find_purchase(conn: Executor, world: str, purchase_id: str) -> Intent | None:
    """The intent of a world with a purchase id, or None."""
    record = await conn.fetchrow(_INTENT + " WHERE i.purchase_id = $1 AND i.world = $2", purchase_id, world)
    return _intent(record) if record is not None else None


async def open_intent(conn: Executor, new: NewIntent) -> tuple[Intent, bool]:
    """Record a pending intent; if its key is taken, return the intent under it instead.

    Returns:
        The intent and whether this call created it.
    """
    created = await conn.fetchval(
        "INSERT INTO purchase_intents (idempotency_key, purchase_id, world, player, sku, quantity, amount_minor,"
        " currency, payment_method) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING true",
        new.idempotency_key, new.purchase_id, new.world, new.player, new.sku, new.quantity, new.amount_minor,
        new.currency, new.payment_method,
    )
    intent = await find_intent(conn, new.idempotency_key)
    assert intent is not None  # inserted now, or there before: intents are never deleted
    return intent, bool(created)


async def retry_intent(conn: Executor, intent_id: uuid.UUID, payment_method: str) -> None:
    """Record the payment method a retry of a pending intent tries (a settled intent is left alone)."""
    await conn.execute(
        "UPDATE purchase_intents SET payment_method = $2"
        " WHERE intent_id = $1 AND status = 'pending' AND payment_method <> $2",
        intent_id, payment_method,
    )


async def settle_intent(
    executor: Executor, intent_id: uuid.UUID, *, ok: bool, provider_ref: str, message: str
) -> tuple[Intent, bool]:
    """Settle a pending intent in one transaction: completed with its entitlement and ledger line, or failed.

    Given a connection, the transaction nests in the caller's (whose commit then decides).

    Returns:
        The intent and whether this call settled it (False: it was settled before, left as it was).

    Raises:
        LedgerError: no intent has this id.
    """
    async with _transaction(executor) as conn:
        status = await conn.fetchval("SELECT status FROM purchase_intents WHERE intent_id = $1 FOR UPDATE", intent_id)
        if status is None:
            raise LedgerError("intent_id", f"no purchase intent {intent_id}")
        settled = status == "pending"
        if settled:
            await conn.execute(
                "UPDATE purchase_intents SET status = $2, provider_ref = $3, provider_message = $4,"
                " ledger_seq = CASE WHEN $2 = 'completed' THEN nextval('payment_ledger_seq') END"
                " WHERE intent_id = $1",
                intent_id, "completed" if ok else "failed", provider_ref, message,
            )
            if ok:
                await conn.execute(
                    "INSERT INTO entitlements (intent_id, world, player, sku, quantity)"
                    " SELECT intent_id, world, player, sku, quantity FROM purchase_intents WHERE intent_id = $1",
                    intent_id,
                )
        record = await conn.fetchrow(_INTENT + " WHERE i.intent_id = $1", intent_id)
    return _intent(record), settled


async def record_refund(
    executor: Executor,
    intent_id: uuid.UUID,
    *,
    idempotency_key: str,
    amount_minor: int,
    reason: str = "",
    provider_ref: str = "",
) -> tuple[Refund, bool]:
    """Record a refund in one transaction; the one that refunds the rest revokes the entitlement.

    Given a connection, the transaction nests in the caller's (whose commit then decides).

    Returns:
        The refund and whether this call recorded it (False: a refund with this key exists).

    Raises:
        LedgerError: the intent is unknown or not completed, ``amount_minor`` is not positive,
            or the refunds would add up to more than was paid.
    """
    if amount_minor <= 0:
        raise LedgerError("amount_minor", f"must be > 0, got {amount_minor}")
    async with _transaction(executor) as conn:
        # Locked first, so refunds of one intent are checked one after the other.
        intent = await conn.fetchrow(
            "SELECT purchase_id, status, amount_minor FROM purchase_intents WHERE intent_id = $1 FOR UPDATE",
            intent_id,
        )
        if intent is None:
            raise LedgerError("intent_id", f"no purchase intent {intent_id}")
        known = await conn.fetchrow("SELECT * FROM refunds WHERE idempotency_key = $1", idempotency_key)
        if known is not None:
            return _refund(known), False
        name = intent["purchase_id"] or str(intent_id)
        if intent["status"] != "completed":
            raise LedgerError("purchase_id", f"{name} is {intent['status']}, not completed: nothing to refund")
        before = await conn.fetchval(
            "SELECT coalesce(sum(amount_minor), 0)::bigint FROM refunds WHERE intent_id = $1", intent_id
        )
        total, paid = before + amount_minor, intent["amount_minor"]
        if total > paid:
            raise LedgerError("amount_minor", f"refunds of {name} would total {total} of {paid} paid")
        try:
            record = await conn.fetchrow(
                "INSERT INTO refunds (idempotency_key, intent_id, amount_minor, reason, provider_ref)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING *",
                idempotency_key, intent_id, amount_minor, reason, provider_ref,
            )
        except asyncpg.CheckViolationError as exc:  # the trigger's own check, should another writer race us
            raise LedgerError("amount_minor", str(exc)) from None
        if total == paid:
            await conn.execute(
                "UPDATE entitlements SET revoked_at = now() WHERE intent_id = $1 AND revoked_at IS NULL", intent_id
            )
    return _refund(record), True


async def mark_announced(conn: Executor, intent_id: uuid.UUID) -> None:
    """Record that a settled intent's events were published (or staged in the outbox, in this transaction)."""
    await conn.execute("UPDATE purchase_intents SET announced = true WHERE intent_id = $1 AND NOT announced",
                       intent_id)


async def mark_refund_announced(conn: Executor, refund_id: uuid.UUID) -> None:
    """Record that a refund's events were published (or staged in the outbox, in this transaction)."""
    await conn.execute("UPDATE refunds SET announced = true WHERE refund_id = $1", refund_id)


async def pending_intents(conn: Executor) -> list[Intent]:
    """Intents whose provider answer was never recorded (a crash or an outage), oldest first."""
    records = await conn.fetch(_INTENT + " WHERE i.status = 'pending' ORDER BY i.created_at")
    return [_intent(record) for record in records]


async def unannounced_intents(conn: Executor) -> list[Intent]:
    """Settled intents whose events were not published, oldest first."""
    records = await conn.fetch(
        _INTENT + " WHERE NOT i.announced AND i.status IN ('completed', 'failed') ORDER BY i.created_at"
    )
    return [_intent(record) for record in records]


async def unannounced_refunds(conn: Executor) -> list[tuple[Refund, Intent]]:
    """Refunds whose events were not published, with their intents, in ledger order."""
    records = await conn.fetch("SELECT * FROM refunds WHERE NOT announced ORDER BY ledger_seq")
    found: list[tuple[Refund, Intent]] = []
    for record in records:
        intent = await conn.fetchrow(_INTENT + " WHERE i.intent_id = $1", record["intent_id"])
        found.append((_refund(record), _intent(intent)))
    return found


async def ledger_lines(conn: Executor, world: str, player: str | None = None) -> list[LedgerLine]:
    """A world's ledger (or one player's lines of it) in order; ``seq`` counts the world's lines."""
    records = await conn.fetch(
        """
        WITH refund_lines AS (
            SELECT r.ledger_seq, i.purchase_id, i.player, i.sku, i.quantity, i.amount_minor AS paid,
                   r.amount_minor,
                   sum(r.amount_minor) OVER (PARTITION BY r.intent_id ORDER BY r.ledger_seq) AS refunded
            FROM refunds r JOIN purchase_intents i USING (intent_id)
            WHERE i.world = $1
        ), lines AS (
            SELECT ledger_seq, 'charge' AS kind, purchase_id, player, sku, quantity, amount_minor
            FROM purchase_intents WHERE world = $1 AND status = 'completed'
            UNION ALL
            SELECT ledger_seq, 'refund', purchase_id, player, sku,
                   CASE WHEN refunded >= paid AND refunded - amount_minor < paid THEN -quantity ELSE 0 END,
                   -amount_minor
            FROM refund_lines
        )
        SELECT * FROM (
            SELECT row_number() OVER (ORDER BY ledger_seq) AS seq, kind, purchase_id, player, sku, quantity,
                   amount_minor
            FROM lines
        ) numbered
        WHERE $2::text IS NULL OR player = $2
        ORDER BY seq
        """,
        world, player,
    )
    return [LedgerLine(**dict(record)) for record in records]


async def entitlement_totals(conn: Executor, world: str, player: str | None = None) -> dict[str, dict[str, int]]:
    """Player -> sku -> quantity owned now (a revoked entitlement counts 0), in a world."""
    records = await conn.fetch(
        "SELECT player, sku, sum(CASE WHEN revoked_at IS NULL THEN quantity ELSE 0 END)::int AS owned"
        " FROM entitlements WHERE world = $1 AND ($2::text IS NULL OR player = $2)"
        " GROUP BY player, sku ORDER BY player, sku",
        world, player,
    )
    owned: dict[str, dict[str, int]] = {}
    for record in records:
        owned.setdefault(record["player"], {})[record["sku"]] = record["owned"]
    return owned
