"""Payment providers: the interface the payments actor charges through, a local test provider,
a Stripe adapter (the official ``stripe`` package, ``pip install "stripe>=10"``) and the check of
Stripe's webhook signatures (no package needed)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loreweave.protocol import ConfigError, LoreweaveError

if TYPE_CHECKING:
    from loreweave.config import Settings


@dataclass(frozen=True)
class Charge:
    """What to charge: the idempotency key travels to the provider so it never charges twice."""

    idempotency_key: str
    amount_cents: int
    currency: str
    payment_method: str
    description: str = ""
    metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ProviderResult:
    """A provider's answer: ``ok``, its reference (charge or refund id) and a message."""

    ok: bool
    reference: str = ""
    message: str = ""


class ProviderError(Exception):
    """The provider could not be reached or failed (not a decline: the caller may retry)."""


class PaymentProvider(Protocol):
    """Charges and refunds money."""

    name: str

    async def charge(self, charge: Charge) -> ProviderResult:
        """Charge; a decline is ``ok=False``, an outage raises :class:`ProviderError`."""
        ...

    async def refund(self, reference: str, amount_cents: int, idempotency_key: str) -> ProviderResult:
        """Refund (part of) a charge made earlier."""
        ...


class LocalTestProvider:
    """A provider with no network, for tests and the simulator.

    Payment methods: ``test-ok`` (and anything else) succeeds, ``test-decline`` is
    declined, ``test-error`` raises :class:`ProviderError`. Idempotency keys are honoured
    like a real provider's: a key asked again gets the first answer and charges nothing
    more, and a key reused for another amount is refused. Share one instance between
    actor instances to play a provider that outlives a restart.
    """

    name = "local"

    def __init__(self) -> None:
        #: Idempotency key -> the answer given (one entry per charge actually made or declined).
        self.charges: dict[str, ProviderResult] = {}
        self.refunds: dict[str, ProviderResult] = {}
        #: Idempotency keys of every ``charge`` call, repeats included.
        self.calls: list[str] = []
        self._terms: dict[str, tuple[int, str]] = {}

    async def charge(self, charge: Charge) -> ProviderResult:
        """Charge without moving money."""
        self.calls.append(charge.idempotency_key)
        known = self.charges.get(charge.idempotency_key)
        if known is not None:
            if self._terms[charge.idempotency_key] != (charge.amount_cents, charge.currency):
                raise ProviderError(f"local provider: key {charge.idempotency_key!r} was used for another amount")
            return known
        if charge.payment_method == "test-error":
            raise ProviderError("local provider: simulated outage")
        self._terms[charge.idempotency_key] = (charge.amount_cents, charge.currency)
        digest = hashlib.blake2b(charge.idempotency_key.encode(), digest_size=8).hexdigest()
        result = (
            ProviderResult(False, f"ch_{digest}", "card_declined")
            if charge.payment_method == "test-decline"
            else ProviderResult(True, f"ch_{digest}", "succeeded")
        )
        self.charges[charge.idempotency_key] = result
        return result

    async def refund(self, reference: str, amount_cents: int, idempotency_key: str) -> ProviderResult:
        """Refund without moving money."""
        known = self.refunds.get(idempotency_key)
        if known is None:
            digest = hashlib.blake2b(idempotency_key.encode(), digest_size=8).hexdigest()
            known = self.refunds[idempotency_key] = ProviderResult(True, f"re_{digest}", "refunded")
        return known


class WebhookRefused(LoreweaveError):
    """A provider's webhook was refused: no, a malformed, a stale or a wrong signature (the caller's fault:
    answer HTTP 400 and act on nothing in it)."""


#: Stripe's default: a signed timestamp older (or newer) than this is a replay, refused.
WEBHOOK_TOLERANCE_S = 300.0


class StripeWebhook:
    """Checks the ``Stripe-Signature`` header of a webhook delivery, as Stripe documents it.

    The header is ``t=<unix time>,v1=<hex>[,v1=<hex>...]``: each ``v1`` is the HMAC-SHA256, keyed
    with the endpoint's signing secret (``whsec_...``), of ``"{t}.{raw body}"``. A delivery is
    accepted when one ``v1`` matches (several appear while Stripe rolls a secret; ``v0`` and other
    schemes are ignored), compared in constant time, and ``t`` is within ``tolerance_s`` of now
    (older: a replay; newer: a forgery or a broken clock). Verify the raw bytes as received,
    before any JSON parsing: a re-serialised body has another signature.
    """

    def __init__(self, secret: str, *, tolerance_s: float = WEBHOOK_TOLERANCE_S) -> None:
        if not secret:
            raise ConfigError("stripe.webhook_secret", "is empty")
        if tolerance_s <= 0:
            raise ConfigError("stripe.webhook_tolerance_s", f"must be positive, got {tolerance_s}")
        self._secret = secret.encode()
        self.tolerance_s = tolerance_s

    def signature(self, payload: bytes, timestamp: int) -> str:
        """The ``v1`` signature of ``payload`` signed at ``timestamp`` (what Stripe sends)."""
        return hmac.new(self._secret, b"%d." % timestamp + payload, hashlib.sha256).hexdigest()

    def verify(self, payload: bytes, header: str | None, *, now: float | None = None) -> dict[str, Any]:
        """The event of a delivery whose signature holds; ``now`` defaults to the clock.

        Raises:
            WebhookRefused: naming ``Stripe-Signature`` (missing, malformed, stale, no match) or
                ``payload`` (not a JSON object); never showing the secret or the expected signature.
        """
        if not isinstance(payload, bytes):
            raise WebhookRefused("payload", "verify the raw request body (bytes), not parsed or decoded text")
        timestamp, candidates = _parse_signature_header(header)
        now = time.time() if now is None else now
        if abs(now - timestamp) > self.tolerance_s:
            raise WebhookRefused("Stripe-Signature", f"timestamp {timestamp} is {now - timestamp:+.0f}s from now, "
                                 f"outside the {self.tolerance_s:g}s tolerance (a replay or a wrong clock)")
        expected = self.signature(payload, timestamp)
        # Every candidate is compared, in constant time each: the time taken says nothing of which matched.
        matched = False
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise WebhookRefused("Stripe-Signature", "no v1 signature matches the body and the endpoint secret")
        try:
            event = json.loads(payload)
        except ValueError:
            raise WebhookRefused("payload", "is not JSON") from None
        if not isinstance(event, dict):
            raise WebhookRefused("payload", "is not a JSON object")
        return event

    def __repr__(self) -> str:  # never the secret
        return f"StripeWebhook(tolerance_s={self.tolerance_s:g})"


def _parse_signature_header(header: str | None) -> tuple[int, list[str]]:
    if not header:
        raise WebhookRefused("Stripe-Signature", "is missing")
    timestamps, signatures = [], []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise WebhookRefused("Stripe-Signature", f"item {item.strip()[:20]!r} is not key=value")
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        raise WebhookRefused("Stripe-Signature", "needs exactly one t=<unix seconds>")
    if not signatures:
        raise WebhookRefused("Stripe-Signature", "has no v1 signature (the only scheme accepted)")
    return int(timestamps[0]), signatures


class StripeProvider:
    """Charges through Stripe PaymentIntents (confirmed at once) and refunds through Refunds.

    Calls run in a worker thread: the ``stripe`` client is synchronous. Never used in tests.
    """

    name = "stripe"

    def __init__(self, api_key: str, *, timeout_s: float = 20.0, webhook_secret: str | None = None) -> None:
        if not api_key:
            raise ConfigError("stripe.api_key", "is empty")
        #: Checks deliveries to the webhook endpoint (None: no endpoint secret configured).
        self.webhook = StripeWebhook(webhook_secret) if webhook_secret else None
        try:
            import stripe
        except ImportError:
            raise ConfigError("stripe", 'the Stripe provider needs the stripe package: pip install "stripe>=10"') from None
        self._stripe: Any = stripe
        self.api_key = api_key
        self.timeout_s = timeout_s

    async def charge(self, charge: Charge) -> ProviderResult:
        """Create and confirm a PaymentIntent with the charge's idempotency key."""
        stripe = self._stripe
        try:
            intent = await asyncio.wait_for(asyncio.to_thread(
                stripe.PaymentIntent.create,
                api_key=self.api_key,
                idempotency_key=charge.idempotency_key,
                amount=charge.amount_cents,
                currency=charge.currency.lower(),
                payment_method=charge.payment_method,
                confirm=True,
                description=charge.description,
                metadata=dict(charge.metadata),
                automatic_payment_methods={"enabled": True, "allow_redirects": "never"},
            ), self.timeout_s)
        except stripe.CardError as exc:
            return ProviderResult(False, "", exc.code or "card_declined")
        except (TimeoutError, stripe.StripeError) as exc:
            raise ProviderError(f"stripe: {exc}") from None
        return ProviderResult(intent["status"] == "succeeded", intent["id"], intent["status"])

    async def refund(self, reference: str, amount_cents: int, idempotency_key: str) -> ProviderResult:
        """Refund a PaymentIntent."""
        stripe = self._stripe
        try:
            refund = await asyncio.wait_for(asyncio.to_thread(
                stripe.Refund.create, api_key=self.api_key, idempotency_key=idempotency_key,
                payment_intent=reference, amount=amount_cents,
            ), self.timeout_s)
        except (TimeoutError, stripe.StripeError) as exc:
            raise ProviderError(f"stripe: {exc}") from None
        return ProviderResult(refund["status"] in ("succeeded", "pending"), refund["id"], refund["status"])

    def verify_webhook(self, payload: bytes, signature_header: str | None) -> dict[str, Any]:
        """The event of a webhook delivery, once its ``Stripe-Signature`` holds (see :class:`StripeWebhook`).

        Raises:
            ConfigError: no endpoint secret (``LOREWEAVE_STRIPE_WEBHOOK_SECRET``) was configured.
            WebhookRefused: the signature does not hold.
        """
        if self.webhook is None:
            raise ConfigError("LOREWEAVE_STRIPE_WEBHOOK_SECRET", "is needed to accept Stripe webhooks")
        return self.webhook.verify(payload, signature_header)


def provider_from_settings(settings: Settings, *, development: bool = False) -> PaymentProvider | None:
    """The provider ``LOREWEAVE_PAYMENTS_PROVIDER`` names; None for ``none`` (purchases refused),
    except in ``development`` commands (``up``, ``simulate``), which then use the test provider.

    Raises:
        ConfigError: ``stripe`` without ``LOREWEAVE_STRIPE_API_KEY``.
    """
    if settings.payments_provider == "stripe":
        if settings.stripe_api_key is None:
            raise ConfigError("LOREWEAVE_STRIPE_API_KEY", "is needed with LOREWEAVE_PAYMENTS_PROVIDER=stripe")
        webhook_secret = settings.stripe_webhook_secret
        return StripeProvider(settings.stripe_api_key.get_secret_value(),
                              webhook_secret=webhook_secret.get_secret_value() if webhook_secret else None)
    if settings.payments_provider == "test" or development:
        return LocalTestProvider()
    return None
