"""Typed errors of the AI serving layer; each has a ``code`` that becomes an error reply's code.

They survive pickling across Ray processes (``__reduce__``), so a router replica can
raise one and the bridge can still branch on its type.
"""

from __future__ import annotations

from typing import Any

from loreweave.protocol.errors import LoreweaveError


class AIError(LoreweaveError):
    """A request to the AI layer failed; ``code`` says how (a program branches on it)."""

    code: str = "failed"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, self.reason))


class BadRequest(AIError):
    """The request itself is invalid (unknown class, bad schema, bad field)."""

    code = "bad_request"


class Overloaded(AIError):
    """Load was shed: too many requests in flight; retry later or use a scripted line."""

    code = "overloaded"


class RateLimited(AIError):
    """A world or player exceeded its requests per minute."""

    code = "rate_limited"


class QuotaExceeded(AIError):
    """A world or player exceeded its tokens per day."""

    code = "quota_exceeded"


class DeadlineExceeded(AIError):
    """The caller's deadline passed before an answer; the work was cancelled."""

    code = "timeout"


class TierFailed(AIError):
    """A tier failed after it had started streaming, so no fallback was possible."""

    code = "tier_failed"


class InvalidOutput(AIError):
    """The output did not match the requested JSON schema."""

    code = "invalid_output"


class Unavailable(AIError):
    """The AI layer could not be reached (no bridge, no Serve application)."""

    code = "unavailable"


#: Every error type by code, for turning an error reply back into a typed error.
ERRORS_BY_CODE: dict[str, type[AIError]] = {
    cls.code: cls
    for cls in (
        AIError, BadRequest, Overloaded, RateLimited, QuotaExceeded, DeadlineExceeded,
        TierFailed, InvalidOutput, Unavailable,
    )
}


def error_for(code: str, field: str | None, reason: str) -> AIError:
    """The typed error for an error reply's ``code`` (``AIError`` for an unknown code)."""
    cls = ERRORS_BY_CODE.get(code, AIError)
    error = cls(field or "request", reason)
    if cls is AIError:
        error.code = code
    return error


def root_cause(exc: BaseException) -> BaseException:
    """The error raised in a remote replica, looking through Ray's ``RayTaskError`` wrappers."""
    while type(exc).__name__.startswith("RayTaskError") and getattr(exc, "cause", None) is not None:
        exc = exc.cause  # type: ignore[attr-defined]
    return exc
