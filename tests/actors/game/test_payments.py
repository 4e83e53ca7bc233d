"""Payments: idempotent purchases, an entitlement ledger, refunds, provider declines and outages."""

from __future__ import annotations

import importlib.util

import pytest

from loreweave.actors.payments import Payments, StripeProvider
from loreweave.actors.runtime import RequestError
from loreweave.protocol import ConfigError
from loreweave.schemas import (
    EntitlementGranted,
    EntitlementRevoked,
    PaymentDeclined,
    PaymentGetLedger,
    PaymentPurchase,
    PaymentRefund,
    PaymentSucceeded,
)

from .conftest import ask, eventually, settle


async def test_purchases_are_idempotent_and_the_ledger_balances(bus, start_node, world, frames) -> None:
    await start_node(Payments())
    buy = PaymentPurchase(purchase_key="ann-0001", player_id="ann", sku="glass-charm", quantity=2)
    receipt = await ask(bus, world, buy)
    assert (receipt.status, receipt.amount_cents, receipt.currency, receipt.replayed) == ("succeeded", 998, "EUR", False)
    again = await ask(bus, world, buy)
    assert again.replayed and again.purchase_id == receipt.purchase_id
    with pytest.raises(RequestError, match="different purchase"):
        await ask(bus, world, buy.model_copy(update={"sku": "reed-boat"}))
    with pytest.raises(RequestError, match="unknown item 'moon'"):
        await ask(bus, world, PaymentPurchase(purchase_key="ann-0002", player_id="ann", sku="moon"))

    declined = await ask(bus, world, PaymentPurchase(purchase_key="ann-0003", player_id="ann", sku="tide-pass",
                                                     payment_method="test-decline"))
    assert declined.status == "declined" and declined.message == "card_declined"
    with pytest.raises(RequestError, match="nothing to refund"):
        await ask(bus, world, PaymentRefund(purchase_id=declined.purchase_id))

    outage = PaymentPurchase(purchase_key="bob-0001", player_id="bob", sku="reed-boat", payment_method="test-error")
    with pytest.raises(RequestError) as error:
        await ask(bus, world, outage)
    assert error.value.code == "handler_failed"
    retried = await ask(bus, world, outage.model_copy(update={"payment_method": "test-ok"}))  # same key, later
    assert retried.status == "succeeded" and not retried.replayed

    refund = await ask(bus, world, PaymentRefund(purchase_id=receipt.purchase_id, reason="mistake"))
    assert refund.status == "refunded"
    assert (await ask(bus, world, PaymentRefund(purchase_id=receipt.purchase_id))).replayed
    with pytest.raises(RequestError, match="unknown purchase"):
        await ask(bus, world, PaymentRefund(purchase_id="pur_nope"))

    ledger = await ask(bus, world, PaymentGetLedger())
    assert [(e.kind, e.player_id, e.quantity, e.amount_cents) for e in ledger.entries] == [
        ("charge", "ann", 2, 998), ("charge", "bob", 1, 999), ("refund", "ann", -2, -998)]
    assert ledger.entitlements == {"ann": {"glass-charm": 0}, "bob": {"reed-boat": 1}}
    assert (ledger.captured_cents, ledger.refunded_cents) == (1997, 998)
    assert (await ask(bus, world, PaymentGetLedger(player_id="bob"))).captured_cents == 999

    await eventually(lambda: len(frames.of(EntitlementRevoked)) == 1)
    await settle(frames)
    assert len(frames.of(PaymentSucceeded)) == 2 and len(frames.of(EntitlementGranted)) == 2
    assert [d.reason for d in frames.of(PaymentDeclined)] == ["card_declined"]


def test_the_stripe_adapter_names_its_package() -> None:
    with pytest.raises(ConfigError, match="api_key"):
        StripeProvider("")
    if importlib.util.find_spec("stripe") is None:
        with pytest.raises(ConfigError, match='pip install "stripe>=10"'):
            StripeProvider("sk_test_x")
