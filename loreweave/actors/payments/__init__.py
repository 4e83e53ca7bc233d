"""The payments actor and its payment providers."""

from loreweave.actors.payments.actor import CATALOG, Payments, PaymentsState, PaymentsWorld, Price, Purchase
from loreweave.actors.payments.providers import (
    Charge,
    LocalTestProvider,
    PaymentProvider,
    ProviderError,
    ProviderResult,
    StripeProvider,
)

__all__ = [
    "CATALOG", "Charge", "LocalTestProvider", "PaymentProvider", "Payments", "PaymentsState", "PaymentsWorld",
    "Price", "ProviderError", "ProviderResult", "Purchase", "StripeProvider",
]
