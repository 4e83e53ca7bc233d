"""Typed errors shared by every Loreweave layer.

Each error names the field it is about and the reason, so that a user sees one
clear line (``frame.world: must be a non-empty token, got ''``) instead of a
traceback.
"""

from __future__ import annotations


class LoreweaveError(Exception):
    """Base class of every error Loreweave raises on purpose."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class FrameError(LoreweaveError):
    """A frame could not be encoded or decoded (size, types, version, schema)."""

    #: Short machine-readable reason, used as the dead-letter subject token.
    code: str = "malformed"

    def __init__(self, field: str, reason: str, code: str | None = None) -> None:
        super().__init__(field, reason)
        if code is not None:
            self.code = code


class SubjectError(LoreweaveError):
    """A subject or subject pattern is not valid."""


class ConfigError(LoreweaveError):
    """A configuration value was refused."""


class SchemaError(LoreweaveError):
    """An event type or its payload does not match the registered schema."""
