"""Payments (payment): purchase intents idempotent by key, an entitlement ledger, refunds, in PostgreSQL.

Prices come from the actor's catalogue, never from the client. The ledger lives in the
node's database (:mod:`loreweave.db.ledger`); the actor keeps nothing of it in memory, so
any number of restarts (or instances) share one ledger.

A purchase key is first recorded as a ``pending`` intent, in its own transaction, and only
then is the provider asked, with the same idempotency key; its answer settles the intent
(succeeded with its entitlement and ledger line, or declined) in one transaction. A key seen
before returns the first answer (``replayed``) and charges nothing; a declined purchase stays
declined for its key. An intent left pending (a provider outage, or a crash after asking) is
resolved by asking the provider again with the same key: by a retry of the request, or when
the actor starts. A refund is full, recorded with its own idempotency key, never above what
was paid; a second refund changes nothing.

The events that announce an outcome are written to the actor's outbox in the transaction that
records the outcome, published with JetStream acknowledgements after the commit, and only then
deleted from the outbox; a crash in between leaves them there, and they are published again
(same frame ids, so JetStream keeps one copy) when the actor starts, or by its node a few seconds later.

Answers: ``payment.purchase``, ``payment.refund``, ``payment.get_ledger``. Consumes ``world.closed``.
Emits: ``payment.succeeded``/``declined``/``refunded``, ``payment.entitlement_granted``/``revoked``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from loreweave.actors.base import GameActor
from loreweave.actors.payments.providers import Charge, PaymentProvider, ProviderError
from loreweave.actors.runtime import Context, frame_for, on, reply
from loreweave.db import Intent, NewIntent, OutboxFrame, Refund, ledger
from loreweave.protocol import ConfigError, LoreweaveError
from loreweave.schemas import (
    EntitlementGranted,
    EntitlementRevoked,
    Event,
    LedgerEntry,
    PaymentDeclined,
    PaymentGetLedger,
    PaymentLedger,
    PaymentPurchase,
    PaymentReceipt,
    PaymentRefund,
    PaymentRefunded,
    PaymentSucceeded,
    WorldClosed,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Price:
    """The price of one unit of an item."""

    amount_cents: int
    currency: str = "EUR"


#: The default shop of the example world.
CATALOG: dict[str, Price] = {
    "lantern-oil": Price(199), "glass-charm": Price(499), "reed-boat": Price(999),
    "ember-cloak": Price(1499), "tide-pass": Price(2999),
}


class PaymentsState(BaseModel):
    """Nothing: the ledger lives in PostgreSQL (see :mod:`loreweave.db.ledger`)."""


def purchase_id_for(world: str, purchase_key: str) -> str:
    """The purchase id of a key in a world (stable, so a retried key names the same purchase)."""
    return "pur_" + hashlib.blake2b(f"{world}:{purchase_key}".encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Recovery:
    """What :meth:`Payments.recover` did on start."""

    settled: int = 0
    still_pending: int = 0
    announced: int = 0
    resent: int = 0


class Payments(GameActor[PaymentsState]):
    """Sells items through a payment provider, with the ledger in the node's database.

    Args:
        provider: who moves the money; None (the default) refuses purchases and refunds naming
            ``LOREWEAVE_PAYMENTS_PROVIDER``. The :class:`LocalTestProvider` moves none: give it
            explicitly, for development and tests.
        catalog: sku -> price.
    """

    name = "payments"

    def __init__(
        self,
        *,
        seed: int = 0,
        provider: PaymentProvider | None = None,
        catalog: Mapping[str, Price] | None = None,
        heartbeat_s: float = 5.0,
    ) -> None:
        super().__init__(PaymentsState(), seed=seed, heartbeat_s=heartbeat_s)
        #: Who moves the money; None refuses every purchase and refund with a clear error.
        self.provider: PaymentProvider | None = provider
        self.catalog = dict(catalog or CATALOG)
        #: What the last start repaired (see :meth:`recover`).
        self.recovery = Recovery()

    async def on_start(self) -> None:
        """Refuse to run without a database; settle and announce what a crash left behind."""
        if self._database is None:
            raise ConfigError("actors.payments", "keeps its ledger in PostgreSQL: give the node a database")
        self.recovery = await self.recover()

    async def recover(self) -> Recovery:
        """Publish what the outbox still holds, announce outcomes settled without events (rows of an
        older version), then resolve pending intents with the provider (same keys).

        Stops asking the provider at its first outage: the rest stay pending until a retry of
        their key or the next start.
        """
        pool = self.database.pool
        resent = await self.outbox.resend()
        announced = 0
        for intent in await ledger.unannounced_intents(pool):
            async with self.database.state.transaction() as conn:
                rows = await self._stage_purchase(conn, intent, None)
            await self.outbox.publish_committed(rows)
            announced += 1
        for refund, intent in await ledger.unannounced_refunds(pool):
            async with self.database.state.transaction() as conn:
                rows = await self._stage_refund(conn, refund, intent, None)
            await self.outbox.publish_committed(rows)
            announced += 1
        settled = still_pending = 0
        pending = await ledger.pending_intents(pool) if self.provider is not None else []
        for index, intent in enumerate(pending):
            try:
                await self._settle(intent, intent.payment_method, None)
            except ProviderError as exc:
                still_pending = len(pending) - index
                logger.warning("payments: %d intents stay pending, the provider is out: %s", still_pending, exc)
                break
            settled += 1
        if settled or still_pending or announced or resent:
            logger.info("payments: recovered %d pending intents (%d still pending), announced %d outcomes,"
                        " published %d frames left in the outbox", settled, still_pending, announced, resent)
        return Recovery(settled, still_pending, announced, resent)

    def _receipt(self, intent: Intent, replayed: bool = False) -> PaymentReceipt:
        if intent.fully_refunded:
            status, message = "refunded", intent.refund_reason
        else:
            status, message = ("succeeded" if intent.status == "completed" else "declined"), intent.provider_message
        return PaymentReceipt(
            purchase_id=intent.purchase_id, purchase_key=intent.idempotency_key.removeprefix(f"{intent.world}:"),
            player_id=intent.player, sku=intent.sku, quantity=intent.quantity, amount_cents=intent.amount_minor,
            currency=intent.currency, status=status, provider=self.provider.name if self.provider else "none",
            provider_ref=intent.provider_ref,
            message=message, replayed=replayed,
        )

    async def _stage(
        self, conn: Any, events: list[Event], world: str, ctx: Context | None
    ) -> list[OutboxFrame]:
        """Write the events of an outcome to the outbox, in the transaction that records the outcome."""
        if ctx is not None:
            frames = [ctx.derive(event) for event in events]
        else:  # on start, repairing a crash: no request to descend from
            frames = [frame_for(event, world, self.name) for event in events]
        return await self.outbox.stage(conn, frames)

    async def _settle(self, intent: Intent, payment_method: str, ctx: Context | None) -> tuple[Intent, bool]:
        """Ask the provider about a pending intent (with its key), record the answer with its events, publish them."""
        result = await self._provider().charge(Charge(
            idempotency_key=intent.idempotency_key, amount_cents=intent.amount_minor, currency=intent.currency,
            payment_method=payment_method, description=f"{intent.quantity} x {intent.sku}",
            metadata=(("world", intent.world), ("player_id", intent.player), ("sku", intent.sku)),
        ))
        rows: list[OutboxFrame] = []
        async with self.database.state.transaction() as conn:
            settled, changed = await ledger.settle_intent(
                conn, intent.intent_id, ok=result.ok, provider_ref=result.reference, message=result.message
            )
            if changed:
                rows = await self._stage_purchase(conn, settled, ctx)
        await self.outbox.publish_committed(rows)
        return settled, changed

    async def _stage_purchase(self, conn: Any, intent: Intent, ctx: Context | None) -> list[OutboxFrame]:
        events: list[Event]
        if intent.status == "completed":
            events = [
                PaymentSucceeded(
                    purchase_id=intent.purchase_id, player_id=intent.player, sku=intent.sku,
                    quantity=intent.quantity, amount_cents=intent.amount_minor, currency=intent.currency),
                EntitlementGranted(
                    player_id=intent.player, sku=intent.sku, quantity=intent.quantity, purchase_id=intent.purchase_id),
            ]
        else:
            events = [PaymentDeclined(
                purchase_id=intent.purchase_id, player_id=intent.player, sku=intent.sku,
                reason=intent.provider_message)]
        await ledger.mark_announced(conn, intent.intent_id)
        return await self._stage(conn, events, intent.world, ctx)

    async def _stage_refund(self, conn: Any, refund: Refund, intent: Intent, ctx: Context | None) -> list[OutboxFrame]:
        events: list[Event] = [PaymentRefunded(
            purchase_id=intent.purchase_id, player_id=intent.player, sku=intent.sku, amount_cents=refund.amount_minor)]
        if intent.fully_refunded:
            events.append(EntitlementRevoked(
                player_id=intent.player, sku=intent.sku, quantity=intent.quantity, purchase_id=intent.purchase_id))
        await ledger.mark_refund_announced(conn, refund.refund_id)
        return await self._stage(conn, events, intent.world, ctx)

    def _provider(self) -> PaymentProvider:
        if self.provider is None:
            raise LoreweaveError(
                "provider", "no payment provider is configured (LOREWEAVE_PAYMENTS_PROVIDER): purchases are refused"
            )
        return self.provider

    @reply("lw.rpc.*.payment.purchase")
    async def purchase(self, event: PaymentPurchase, ctx: Context) -> PaymentReceipt:
        """Charge for an item once per key; grant the entitlement on success."""
        self._provider()
        world = ctx.frame.world
        key = f"{world}:{event.purchase_key}"
        # One pooled connection for the reads and writes before the charge (each its own
        # statement, as before): under load every acquisition waits its turn in the pool.
        async with self.database.pool.acquire() as conn:
            intent, created = await ledger.find_intent(conn, key), False
            if intent is None:
                price = self.catalog.get(event.sku)
                if price is None:
                    raise LoreweaveError(
                        "sku", f"unknown item {event.sku!r} (known: {', '.join(sorted(self.catalog))})")
                intent, created = await ledger.open_intent(conn, NewIntent(
                    idempotency_key=key, purchase_id=purchase_id_for(world, event.purchase_key), world=world,
                    player=event.player_id, sku=event.sku, quantity=event.quantity,
                    amount_minor=price.amount_cents * event.quantity, currency=price.currency,
                    payment_method=event.payment_method,
                ))
            if (intent.player, intent.sku, intent.quantity) != (event.player_id, event.sku, event.quantity):
                raise LoreweaveError("purchase_key", "was already used for a different purchase")
            if intent.status == "pending" and not created:  # a new intent carries this payment method already
                await ledger.retry_intent(conn, intent.intent_id, event.payment_method)
        if intent.status == "pending":  # new, or left by an outage or a crash: ask the provider (same key)
            intent, settled = await self._settle(intent, event.payment_method, ctx)
            return self._receipt(intent, replayed=not settled)
        if not intent.announced:  # settled by an older version, whose crash came before its events went out
            async with self.database.state.transaction() as conn:
                rows = await self._stage_purchase(conn, intent, ctx)
            await self.outbox.publish_committed(rows)
        return self._receipt(intent, replayed=True)

    @reply("lw.rpc.*.payment.refund")
    async def refund(self, event: PaymentRefund, ctx: Context) -> PaymentReceipt:
        """Refund what is left of a purchase and revoke its entitlement; a second refund changes nothing."""
        provider = self._provider()
        world, pool = ctx.frame.world, self.database.pool
        intent = await ledger.find_purchase(pool, world, event.purchase_id)
        if intent is None:
            raise LoreweaveError("purchase_id", f"unknown purchase {event.purchase_id!r}")
        if intent.fully_refunded:
            return self._receipt(intent, replayed=True)
        if intent.status != "completed":
            was = "declined" if intent.status == "failed" else intent.status
            raise LoreweaveError("purchase_id", f"{event.purchase_id!r} was {was}; nothing to refund")
        key = f"{world}:{intent.purchase_id}:refund"
        amount = intent.amount_minor - intent.refunded_minor
        result = await provider.refund(intent.provider_ref, amount, key)
        if not result.ok:
            raise LoreweaveError("purchase_id", f"the provider refused the refund: {result.message}")
        rows: list[OutboxFrame] = []
        async with self.database.state.transaction() as conn:
            refund, recorded = await ledger.record_refund(
                conn, intent.intent_id, idempotency_key=key, amount_minor=amount, reason=event.reason,
                provider_ref=result.reference,
            )
            intent = await ledger.find_purchase(conn, world, event.purchase_id) or intent
            if recorded or not refund.announced:
                rows = await self._stage_refund(conn, refund, intent, ctx)
        await self.outbox.publish_committed(rows)
        return self._receipt(intent, replayed=not recorded)

    @reply("lw.rpc.*.payment.get_ledger")
    async def get_ledger(self, event: PaymentGetLedger, ctx: Context) -> PaymentLedger:
        """The ledger and entitlements of the world (or of one player), from the database."""
        world, pool = ctx.frame.world, self.database.pool
        lines = await ledger.ledger_lines(pool, world, event.player_id)
        entries = [
            LedgerEntry(seq=line.seq, kind=line.kind, purchase_id=line.purchase_id, player_id=line.player,
                        sku=line.sku, quantity=line.quantity, amount_cents=line.amount_minor)
            for line in lines
        ]
        return PaymentLedger(
            entries=entries, entitlements=await ledger.entitlement_totals(pool, world, event.player_id),
            captured_cents=sum(e.amount_cents for e in entries if e.kind == "charge"),
            refunded_cents=-sum(e.amount_cents for e in entries if e.kind == "refund"),
        )

    @on("lw.*.world.closed")
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world's counters (its ledger stays in the database)."""
        self.forget_world(ctx.frame.world)
