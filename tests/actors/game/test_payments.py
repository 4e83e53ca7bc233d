"""Payments: idempotent purchases, an entitlement ledger in PostgreSQL, refunds, provider declines and outages,
restarts and crash recovery."""

from __future__ import annotations

import importlib.util

import pytest

from loreweave.actors.payments import (
    CATALOG,
    Charge,
    LocalTestProvider,
    Payments,
    Recovery,
    StripeProvider,
    purchase_id_for,
)
from loreweave.actors.runtime import RequestError
from loreweave.db import LedgerError, NewIntent, ledger
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


async def test_purchases_are_idempotent_and_the_ledger_balances(database, bus, start_node, world, frames) -> None:
    await start_node(Payments(provider=LocalTestProvider()), database=database)
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


async def test_a_key_charges_once_across_restarts(database, bus, start_node, world, frames) -> None:
    provider = LocalTestProvider()  # the provider outlives the actor, as Stripe would
    node = await start_node(Payments(provider=provider), database=database)
    buy = PaymentPurchase(purchase_key="ann-restart-1", player_id="ann", sku="reed-boat")
    receipt = await ask(bus, world, buy)
    assert (receipt.status, receipt.replayed) == ("succeeded", False)
    assert (await ask(bus, world, buy)).replayed
    before = await ask(bus, world, PaymentGetLedger())
    await node.stop()

    await start_node(Payments(provider=provider), database=database)
    assert await ask(bus, world, PaymentGetLedger()) == before
    again = await ask(bus, world, buy)
    assert again.replayed and again.purchase_id == receipt.purchase_id and again.provider_ref == receipt.provider_ref
    assert provider.calls == [f"{world}:ann-restart-1"], "the provider was asked twice for one key"
    assert await database.pool.fetchval("SELECT count(*) FROM purchase_intents WHERE world = $1", world) == 1
    refunded = await ask(bus, world, PaymentRefund(purchase_id=receipt.purchase_id, reason="restart"))
    assert (refunded.status, refunded.message) == ("refunded", "restart")
    ledger = await ask(bus, world, PaymentGetLedger(player_id="ann"))
    assert [(e.seq, e.kind, e.quantity, e.amount_cents) for e in ledger.entries] == [
        (1, "charge", 1, 999), (2, "refund", -1, -999)]
    assert ledger.entitlements == {"ann": {"reed-boat": 0}}
    await eventually(lambda: len(frames.of(EntitlementRevoked)) == 1)
    await settle(frames)
    assert len(frames.of(PaymentSucceeded)) == 1 and len(frames.of(EntitlementGranted)) == 1


async def test_what_a_crash_left_is_settled_and_announced_on_start(database, bus, start_node, world, frames) -> None:
    provider = LocalTestProvider()
    pool = database.pool

    def intent(key: str, sku: str, method: str = "test-ok") -> NewIntent:
        return NewIntent(idempotency_key=f"{world}:{key}", purchase_id=purchase_id_for(world, key), world=world,
                         player="cal", sku=sku, quantity=1, amount_minor=CATALOG[sku].amount_cents,
                         currency="EUR", payment_method=method)

    # Crashed after the provider charged: pending here, charged there.
    charged, _ = await ledger.open_intent(pool, intent("cal-charged", "lantern-oil"))
    await provider.charge(Charge(charged.idempotency_key, charged.amount_minor, "EUR", "test-ok"))
    # Crashed before the provider was asked.
    await ledger.open_intent(pool, intent("cal-unasked", "glass-charm"))
    # Crashed after recording the answer, before publishing its events.
    settled, _ = await ledger.open_intent(pool, intent("cal-settled", "ember-cloak", "test-decline"))
    await ledger.settle_intent(pool, settled.intent_id, ok=False, provider_ref="ch_x", message="card_declined")

    actor = Payments(provider=provider)
    await start_node(actor, database=database)
    assert actor.recovery == Recovery(settled=2, still_pending=0, announced=1)
    assert len(provider.charges) == 3 - 1, "a pending intent was charged twice"  # the declined one never was
    ledger_now = await ask(bus, world, PaymentGetLedger())
    assert sorted((e.sku, e.amount_cents) for e in ledger_now.entries) == [("glass-charm", 499), ("lantern-oil", 199)]
    await eventually(lambda: len(frames.of(PaymentSucceeded)) == 2 and len(frames.of(PaymentDeclined)) == 1)
    retried = await ask(bus, world, PaymentPurchase(purchase_key="cal-charged", player_id="cal", sku="lantern-oil"))
    assert retried.replayed and retried.status == "succeeded"
    await settle(frames)
    assert len(frames.of(EntitlementGranted)) == 2 and len(provider.calls) == 3


async def test_an_outage_on_start_leaves_the_intent_pending(database, bus, start_node, world) -> None:
    await ledger.open_intent(database.pool, NewIntent(
        idempotency_key=f"{world}:dan-outage", purchase_id=purchase_id_for(world, "dan-outage"), world=world,
        player="dan", sku="tide-pass", quantity=1, amount_minor=2999, currency="EUR", payment_method="test-error"))
    actor = Payments(provider=LocalTestProvider())
    await start_node(actor, database=database)
    assert actor.recovery == Recovery(settled=0, still_pending=1, announced=0)
    receipt = await ask(bus, world, PaymentPurchase(purchase_key="dan-outage", player_id="dan", sku="tide-pass"))
    assert receipt.status == "succeeded" and not receipt.replayed


async def test_refunds_never_exceed_what_was_paid(database, bus, start_node, world) -> None:
    await start_node(Payments(provider=LocalTestProvider()), database=database)
    receipt = await ask(bus, world, PaymentPurchase(purchase_key="eve-00001", player_id="eve", sku="glass-charm",
                                                    quantity=2))
    paid = await ledger.find_purchase(database.pool, world, receipt.purchase_id)
    with pytest.raises(LedgerError) as error:
        await ledger.record_refund(database.pool, paid.intent_id, idempotency_key="too-much", amount_minor=999)
    assert (error.value.field, error.value.reason) == ("amount_minor", f"refunds of {paid.purchase_id} would total 999 of 998 paid")
    # Part refunded elsewhere (a support desk); the player's refund then takes back only the rest.
    await ledger.record_refund(database.pool, paid.intent_id, idempotency_key="desk-1", amount_minor=300)
    refunded = await ask(bus, world, PaymentRefund(purchase_id=receipt.purchase_id))
    assert refunded.status == "refunded"
    entries = (await ask(bus, world, PaymentGetLedger())).entries
    assert [(e.kind, e.quantity, e.amount_cents) for e in entries] == [
        ("charge", 2, 998), ("refund", 0, -300), ("refund", -2, -698)]
    with pytest.raises(LedgerError, match="would total 999 of 998"):
        await ledger.record_refund(database.pool, paid.intent_id, idempotency_key="desk-2", amount_minor=1)
    assert (await ask(bus, world, PaymentRefund(purchase_id=receipt.purchase_id))).replayed


async def test_the_payments_actor_needs_a_database(start_node) -> None:
    with pytest.raises(ConfigError, match="keeps its ledger in PostgreSQL"):
        await start_node(Payments(provider=LocalTestProvider()))


async def test_without_a_configured_provider_purchases_and_refunds_are_refused(database, bus, start_node, world) -> None:
    # What `loreweave run` builds unless LOREWEAVE_PAYMENTS_PROVIDER names one: no test money for an attacker.
    from loreweave.actors.payments import provider_from_settings
    from loreweave.config import load_settings

    assert provider_from_settings(load_settings({})) is None
    assert isinstance(provider_from_settings(load_settings({"LOREWEAVE_PAYMENTS_PROVIDER": "test"})), LocalTestProvider)
    with pytest.raises(ConfigError, match="LOREWEAVE_STRIPE_API_KEY"):
        provider_from_settings(load_settings({"LOREWEAVE_PAYMENTS_PROVIDER": "stripe"}))
    await start_node(Payments(), database=database)
    with pytest.raises(RequestError, match="LOREWEAVE_PAYMENTS_PROVIDER") as refused:
        await ask(bus, world, PaymentPurchase(purchase_key="mal-0001", player_id="mallory", sku="tide-pass"))
    assert refused.value.code == "bad_request"
    with pytest.raises(RequestError, match="LOREWEAVE_PAYMENTS_PROVIDER"):
        await ask(bus, world, PaymentRefund(purchase_id="pur_x"))
    assert await database.pool.fetchval("SELECT count(*) FROM purchase_intents WHERE world = $1", world) == 0
