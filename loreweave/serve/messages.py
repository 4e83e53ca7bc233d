"""What travels to and from the AI layer: the request, streamed chunks and the result.

The events (``ai.generate``, ``ai.chunk``, ``ai.result``) are declared in
:mod:`loreweave.schemas.ai` and re-exported here with what the bridge adds to a call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from loreweave.schemas.ai import GenerateChunk, GenerateRequest, GenerateResult

__all__ = ["CallContext", "GenerateChunk", "GenerateRequest", "GenerateResult", "TierCall"]


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who asks and until when: what the bridge adds to a request before routing it."""

    world: str
    deadline: float
    request_id: str
    trace: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(
        cls, world: str, request: GenerateRequest, request_id: str, *, default_timeout_ms: float = 5000,
        trace: dict[str, str] | None = None,
    ) -> CallContext:
        """A context whose deadline is the request's ``timeout_ms`` from now."""
        timeout_ms = request.timeout_ms or default_timeout_ms
        return cls(world, time.time() + timeout_ms / 1000, request_id, dict(trace or {}))

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once passed)."""
        return self.deadline - time.time()


@dataclass(frozen=True, slots=True)
class TierCall:
    """What the router sends a tier: the request, with the tier left to fill in its sampling defaults."""

    request_id: str
    kind: str
    prompt: str
    context: dict[str, str]
    max_tokens: int | None = None
    temperature: float | None = None
    json_schema: dict[str, Any] | None = None
    #: Unix time after which nobody waits for the answer (a tier in another process stops then).
    deadline: float | None = None
    #: The world the request came from (frames of a call to a tier in another service name it).
    world: str = "unknown"

    @classmethod
    def of(cls, request: GenerateRequest, ctx: CallContext) -> TierCall:
        """The call for ``request`` made under ``ctx``."""
        return cls(
            ctx.request_id, request.kind, request.prompt, dict(request.context), request.max_tokens,
            request.temperature, request.json_schema, ctx.deadline, ctx.world,
        )
