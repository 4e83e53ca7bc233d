"""Typed errors of the persistence layer: each names the field (a setting, a file) and the reason."""

from __future__ import annotations

from loreweave.protocol.errors import LoreweaveError

#: The setting a connection error is about.
DATABASE_URL_FIELD = "LOREWEAVE_DATABASE_URL"


class DatabaseError(LoreweaveError):
    """The database could not be reached or refused an operation."""


class MigrationError(DatabaseError):
    """A migration file is malformed, was changed after being applied, or failed to apply."""


class QueryError(LoreweaveError):
    """A query's arguments were refused (a limit out of range, an empty type filter...)."""


class LedgerError(DatabaseError):
    """The payment ledger refused a write: a refund above what was paid, or of a purchase not completed."""
