"""The payments actor (its ledger in PostgreSQL) and its payment providers."""

from loreweave.actors.payments.actor import CATALOG, Payments, PaymentsState, Price, Recovery, purchase_id_for
from loreweave.actors.payments.providers import (
    Charge,
    LocalTestProvider,
    PaymentProvider,
    ProviderError,
    ProviderResult,
    StripeProvider,
    StripeWebhook,
    WebhookRefused,
    provider_from_settings,
)

__all__ = [
    "CATALOG", "Charge", "LocalTestProvider", "PaymentProvider", "Payments", "PaymentsState", "Price",
    "ProviderError", "ProviderResult", "Recovery", "StripeProvider", "StripeWebhook", "WebhookRefused",
    "provider_from_settings",
    "purchase_id_for",
]
