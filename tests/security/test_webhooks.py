"""Stripe webhook deliveries: accepted only with a fresh v1 signature of the raw body under the endpoint secret."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from loreweave.actors.payments import StripeWebhook, WebhookRefused
from loreweave.actors.payments import providers
from loreweave.protocol import ConfigError

SECRET = "whsec_test_5ecret_never_printed"
NOW = 1_767_000_000
BODY = json.dumps({"id": "evt_1", "type": "charge.refunded", "data": {"object": {"id": "ch_1"}}}).encode()


def stripe_header(body: bytes, timestamp: int = NOW, secret: str = SECRET, extra: str = "") -> str:
    """The header as Stripe documents it, computed here independently of the code under test."""
    signed = f"{timestamp}.".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}{extra}"


def test_a_signed_delivery_is_accepted_and_parsed() -> None:
    event = StripeWebhook(SECRET).verify(BODY, stripe_header(BODY), now=NOW + 10)
    assert event["type"] == "charge.refunded"


def test_during_a_secret_roll_any_v1_may_match() -> None:
    rolled = stripe_header(BODY, secret="whsec_old") + "," + stripe_header(BODY).split(",", 1)[1] + ",v0=ignored"
    assert StripeWebhook(SECRET).verify(BODY, rolled, now=NOW)["id"] == "evt_1"


@pytest.mark.parametrize(
    ("body", "header", "reason"),
    [
        (BODY.replace(b"ch_1", b"ch_2"), stripe_header(BODY), "no v1 signature matches"),  # tampered body
        (BODY, stripe_header(BODY, secret="whsec_attacker"), "no v1 signature matches"),  # forged
        (BODY, stripe_header(BODY, timestamp=NOW - 301), "outside the 300s tolerance"),  # replayed
        (BODY, stripe_header(BODY, timestamp=NOW + 301), "outside the 300s tolerance"),
        (BODY, stripe_header(BODY).replace(",v1=", ",v0="), "no v1 signature"),  # only a weaker scheme
        (BODY, "", "is missing"),
        (BODY, "garbage", "is not key=value"),
        (BODY, stripe_header(BODY) + f",t={NOW}", "exactly one t="),
        (BODY, stripe_header(BODY).replace(f"t={NOW}", "t=yesterday"), "exactly one t="),
    ],
)
def test_a_forged_stale_or_malformed_delivery_is_refused(body: bytes, header: str, reason: str) -> None:
    with pytest.raises(WebhookRefused) as refused:
        StripeWebhook(SECRET).verify(body, header, now=NOW)
    assert refused.value.field == "Stripe-Signature" and reason in refused.value.reason
    assert SECRET not in str(refused.value)
    good = stripe_header(body).split("v1=")[1]
    assert good not in str(refused.value), "the expected signature leaked into the error"


def test_the_tolerance_edge_and_a_signed_non_object() -> None:
    webhook = StripeWebhook(SECRET, tolerance_s=60)
    assert webhook.verify(BODY, stripe_header(BODY, timestamp=NOW - 60), now=NOW)
    with pytest.raises(WebhookRefused, match="tolerance"):
        webhook.verify(BODY, stripe_header(BODY, timestamp=NOW - 61), now=NOW)
    with pytest.raises(WebhookRefused) as not_object:
        webhook.verify(b"[1, 2]", stripe_header(b"[1, 2]"), now=NOW)
    assert not_object.value.field == "payload"
    with pytest.raises(WebhookRefused) as text:
        webhook.verify(BODY.decode(), stripe_header(BODY), now=NOW)  # type: ignore[arg-type]
    assert text.value.field == "payload"


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(providers.hmac, "compare_digest", spy)
    header = stripe_header(BODY, secret="whsec_old") + ",v1=" + stripe_header(BODY).split("v1=")[1]
    StripeWebhook(SECRET).verify(BODY, header, now=NOW)
    assert len(compared) == 2, "every v1 candidate goes through hmac.compare_digest"


def test_the_secret_is_required_and_never_shown() -> None:
    with pytest.raises(ConfigError) as empty:
        StripeWebhook("")
    assert empty.value.field == "stripe.webhook_secret"
    assert SECRET not in repr(StripeWebhook(SECRET))
