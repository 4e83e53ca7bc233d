"""Payments: purchase and refund requests, receipts, the entitlement ledger and its request."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.common import Id

ReceiptStatus = Literal["succeeded", "declined", "refunded"]


@event("payment.purchase", key="purchase_key")
class PaymentPurchase(Event):
    """Request: buy ``quantity`` of ``sku``; the same ``purchase_key`` never charges twice."""

    purchase_key: str = Field(min_length=8, max_length=128, description="Idempotency key chosen by the client.")
    player_id: Id
    sku: Id
    quantity: int = Field(default=1, ge=1, le=100)
    payment_method: str = Field(default="test-ok", max_length=128, description="A provider token.")


@event("payment.refund", key="purchase_id")
class PaymentRefund(Event):
    """Request: refund a purchase in full (refunding twice is a no-op)."""

    purchase_id: Id
    reason: str = Field(default="requested", max_length=200)


@event("payment.receipt", key="purchase_id")
class PaymentReceipt(Event):
    """Reply to ``payment.purchase`` and ``payment.refund``."""

    purchase_id: str
    purchase_key: str
    player_id: str
    sku: str
    quantity: int
    amount_cents: int
    currency: str
    status: ReceiptStatus
    provider: str
    provider_ref: str = ""
    message: str = ""
    replayed: bool = Field(default=False, description="True when this answers a repeated key.")


@event("payment.succeeded", key="player_id")
class PaymentSucceeded(Event):
    """A purchase was charged."""

    purchase_id: str
    player_id: str
    sku: str
    quantity: int
    amount_cents: int
    currency: str


@event("payment.declined", key="player_id")
class PaymentDeclined(Event):
    """A purchase was refused by the provider."""

    purchase_id: str
    player_id: str
    sku: str
    reason: str


@event("payment.refunded", key="player_id")
class PaymentRefunded(Event):
    """A purchase was refunded."""

    purchase_id: str
    player_id: str
    sku: str
    amount_cents: int


@event("payment.entitlement_granted", key="player_id")
class EntitlementGranted(Event):
    """A player now owns ``quantity`` more of ``sku``."""

    player_id: str
    sku: str
    quantity: int
    purchase_id: str


@event("payment.entitlement_revoked", key="player_id")
class EntitlementRevoked(Event):
    """A player lost ``quantity`` of ``sku`` (a refund)."""

    player_id: str
    sku: str
    quantity: int
    purchase_id: str


class LedgerEntry(BaseModel):
    """One line of the ledger: a charge (positive) or a refund (negative)."""

    seq: int
    kind: Literal["charge", "refund"]
    purchase_id: str
    player_id: str
    sku: str
    quantity: int
    amount_cents: int


@event("payment.get_ledger")
class PaymentGetLedger(Event):
    """Request: the ledger of a world, or of one player."""

    player_id: str | None = Field(default=None, max_length=64)


@event("payment.ledger")
class PaymentLedger(Event):
    """Reply to ``payment.get_ledger``."""

    entries: list[LedgerEntry]
    entitlements: dict[str, dict[str, int]] = Field(description="Player id -> sku -> quantity owned.")
    captured_cents: int
    refunded_cents: int
