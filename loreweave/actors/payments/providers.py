"""Payment providers: the interface the payments actor charges through, a local test provider,
and a Stripe adapter (the official ``stripe`` package, ``pip install "stripe>=10"``)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loreweave.protocol import ConfigError

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


class StripeProvider:
    """Charges through Stripe PaymentIntents (confirmed at once) and refunds through Refunds.

    Calls run in a worker thread: the ``stripe`` client is synchronous. Never used in tests.
    """

    name = "stripe"

    def __init__(self, api_key: str, *, timeout_s: float = 20.0) -> None:
        if not api_key:
            raise ConfigError("stripe.api_key", "is empty")
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


def provider_from_settings(settings: Settings, *, development: bool = False) -> PaymentProvider | None:
    """The provider ``LOREWEAVE_PAYMENTS_PROVIDER`` names; None for ``none`` (purchases refused),
    except in ``development`` commands (``up``, ``simulate``), which then use the test provider.

    Raises:
        ConfigError: ``stripe`` without ``LOREWEAVE_STRIPE_API_KEY``.
    """
    if settings.payments_provider == "stripe":
        if settings.stripe_api_key is None:
            raise ConfigError("LOREWEAVE_STRIPE_API_KEY", "is needed with LOREWEAVE_PAYMENTS_PROVIDER=stripe")
        return StripeProvider(settings.stripe_api_key.get_secret_value())
    if settings.payments_provider == "test" or development:
        return LocalTestProvider()
    return None
