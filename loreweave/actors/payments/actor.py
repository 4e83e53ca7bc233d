"""Payments (payment): purchase intents idempotent by key, an entitlement ledger, refunds.

Prices come from the actor's catalogue, never from the client. A purchase key seen before
returns the first answer (``replayed``) and charges nothing; a declined purchase stays
declined for its key. The ledger is append-only: a charge line per purchase, a negative
line per refund, and entitlements always equal the sum of the ledger's quantities.

Answers: ``payment.purchase``, ``payment.refund``, ``payment.get_ledger``. Consumes ``world.closed``.
Emits: ``payment.succeeded``/``declined``/``refunded``, ``payment.entitlement_granted``/``revoked``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.payments.providers import Charge, LocalTestProvider, PaymentProvider
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import LoreweaveError
from loreweave.schemas import (
    EntitlementGranted,
    EntitlementRevoked,
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
from loreweave.schemas.payment import ReceiptStatus


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


class Purchase(BaseModel):
    """One purchase and what became of it."""

    purchase_id: str
    purchase_key: str
    player_id: str
    sku: str
    quantity: int
    amount_cents: int
    currency: str
    status: ReceiptStatus
    provider_ref: str = ""
    message: str = ""


class PaymentsWorld(BaseModel):
    """One world's purchases, ledger and entitlements."""

    purchases: dict[str, Purchase] = Field(default_factory=dict)
    keys: dict[str, str] = Field(default_factory=dict, description="Purchase key -> purchase id.")
    ledger: list[LedgerEntry] = Field(default_factory=list)
    entitlements: dict[str, dict[str, int]] = Field(default_factory=dict)


class PaymentsState(BaseModel):
    """Every world's payments."""

    worlds: dict[str, PaymentsWorld] = Field(default_factory=dict)


class Payments(GameActor[PaymentsState]):
    """Sells items through a payment provider.

    Args:
        provider: who moves the money (default: :class:`LocalTestProvider`).
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
        self.provider: PaymentProvider = provider or LocalTestProvider()
        self.catalog = dict(catalog or CATALOG)

    def _world(self, world: str) -> PaymentsWorld:
        return self.state.worlds.setdefault(world, PaymentsWorld())

    def _receipt(self, purchase: Purchase, replayed: bool = False) -> PaymentReceipt:
        return PaymentReceipt(**purchase.model_dump(), provider=self.provider.name, replayed=replayed)

    def _book(self, w: PaymentsWorld, purchase: Purchase, sign: int) -> None:
        kind: Literal["charge", "refund"] = "charge" if sign > 0 else "refund"
        w.ledger.append(LedgerEntry(
            seq=len(w.ledger) + 1, kind=kind, purchase_id=purchase.purchase_id, player_id=purchase.player_id,
            sku=purchase.sku, quantity=sign * purchase.quantity, amount_cents=sign * purchase.amount_cents,
        ))
        owned = w.entitlements.setdefault(purchase.player_id, {})
        owned[purchase.sku] = owned.get(purchase.sku, 0) + sign * purchase.quantity

    @reply("lw.rpc.*.payment.purchase")
    async def purchase(self, event: PaymentPurchase, ctx: Context) -> PaymentReceipt:
        """Charge for an item once per key; grant the entitlement on success."""
        w = self._world(ctx.frame.world)
        known = w.keys.get(event.purchase_key)
        if known is not None:
            purchase = w.purchases[known]
            if (purchase.player_id, purchase.sku, purchase.quantity) != (event.player_id, event.sku, event.quantity):
                raise LoreweaveError("purchase_key", "was already used for a different purchase")
            return self._receipt(purchase, replayed=True)
        price = self.catalog.get(event.sku)
        if price is None:
            raise LoreweaveError("sku", f"unknown item {event.sku!r} (known: {', '.join(sorted(self.catalog))})")
        digest = hashlib.blake2b(f"{ctx.frame.world}:{event.purchase_key}".encode(), digest_size=8).hexdigest()
        amount = price.amount_cents * event.quantity
        result = await self.provider.charge(Charge(
            idempotency_key=f"{ctx.frame.world}:{event.purchase_key}", amount_cents=amount, currency=price.currency,
            payment_method=event.payment_method, description=f"{event.quantity} x {event.sku}",
            metadata=(("world", ctx.frame.world), ("player_id", event.player_id), ("sku", event.sku)),
        ))
        purchase = Purchase(
            purchase_id=f"pur_{digest}", purchase_key=event.purchase_key, player_id=event.player_id, sku=event.sku,
            quantity=event.quantity, amount_cents=amount, currency=price.currency,
            status="succeeded" if result.ok else "declined", provider_ref=result.reference, message=result.message,
        )
        w.purchases[purchase.purchase_id] = purchase
        w.keys[event.purchase_key] = purchase.purchase_id
        if not result.ok:
            await ctx.emit(PaymentDeclined(
                purchase_id=purchase.purchase_id, player_id=event.player_id, sku=event.sku, reason=result.message))
            return self._receipt(purchase)
        self._book(w, purchase, +1)
        await ctx.emit(PaymentSucceeded(
            purchase_id=purchase.purchase_id, player_id=event.player_id, sku=event.sku, quantity=event.quantity,
            amount_cents=amount, currency=price.currency))
        await ctx.emit(EntitlementGranted(
            player_id=event.player_id, sku=event.sku, quantity=event.quantity, purchase_id=purchase.purchase_id))
        return self._receipt(purchase)

    @reply("lw.rpc.*.payment.refund")
    async def refund(self, event: PaymentRefund, ctx: Context) -> PaymentReceipt:
        """Refund a purchase in full and revoke its entitlement; a second refund changes nothing."""
        w = self._world(ctx.frame.world)
        purchase = w.purchases.get(event.purchase_id)
        if purchase is None:
            raise LoreweaveError("purchase_id", f"unknown purchase {event.purchase_id!r}")
        if purchase.status == "refunded":
            return self._receipt(purchase, replayed=True)
        if purchase.status != "succeeded":
            raise LoreweaveError("purchase_id", f"{event.purchase_id!r} was {purchase.status}; nothing to refund")
        result = await self.provider.refund(
            purchase.provider_ref, purchase.amount_cents, f"{ctx.frame.world}:{purchase.purchase_id}:refund")
        if not result.ok:
            raise LoreweaveError("purchase_id", f"the provider refused the refund: {result.message}")
        purchase.status, purchase.message = "refunded", event.reason
        self._book(w, purchase, -1)
        await ctx.emit(PaymentRefunded(
            purchase_id=purchase.purchase_id, player_id=purchase.player_id, sku=purchase.sku,
            amount_cents=purchase.amount_cents))
        await ctx.emit(EntitlementRevoked(
            player_id=purchase.player_id, sku=purchase.sku, quantity=purchase.quantity,
            purchase_id=purchase.purchase_id))
        return self._receipt(purchase)

    @reply("lw.rpc.*.payment.get_ledger")
    async def get_ledger(self, event: PaymentGetLedger, ctx: Context) -> PaymentLedger:
        """The ledger and entitlements of the world (or of one player)."""
        w = self._world(ctx.frame.world)
        entries = [e for e in w.ledger if event.player_id is None or e.player_id == event.player_id]
        owned = {
            player: dict(skus) for player, skus in sorted(w.entitlements.items())
            if event.player_id is None or player == event.player_id
        }
        return PaymentLedger(
            entries=entries, entitlements=owned,
            captured_cents=sum(e.amount_cents for e in entries if e.kind == "charge"),
            refunded_cents=-sum(e.amount_cents for e in entries if e.kind == "refund"),
        )

    @on("lw.*.world.closed")
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world (its ledger belongs to the persistence layer by then)."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)
