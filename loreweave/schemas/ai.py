"""Requests to the AI layer (``lw.ai.generate``, ``lw.ai.stream``), streamed chunks and results.

They are Loreweave events, so they ride in ordinary frames on NATS, and the same typed
objects go through Ray Serve handles.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.qos import QosLevel as Qos

#: What a request is for; picks its route of tiers.
RequestClass = Literal["dialogue", "narrative", "background"]


@event("ai.generate")
class GenerateRequest(Event):
    """Ask for a line of text (or a JSON object matching ``json_schema``)."""

    kind: RequestClass = Field(description="dialogue, narrative or background: picks the route of tiers.")
    prompt: str = Field(default="", max_length=32_000)
    context: dict[str, str] = Field(
        default_factory=dict, description="Facts the line is about (npc, player, mood, topic...)."
    )
    player_id: str | None = Field(default=None, max_length=64)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    temperature: float | None = Field(default=None, ge=0, le=2)
    json_schema: dict[str, Any] | None = Field(default=None, description="Ask for JSON matching this schema.")
    qos: Qos | None = Field(default=None, description="Lower the world's qos for this request.")
    timeout_ms: float | None = Field(default=None, gt=0, le=600_000, description="The caller's deadline.")


@event("ai.chunk")
class GenerateChunk(Event):
    """Part of a streamed answer: ``text`` follows the previous chunk's text."""

    seq: int = Field(ge=0)
    text: str
    tier: str


@event("ai.result")
class GenerateResult(Event):
    """The whole answer: text, which tier wrote it, and what it cost."""

    text: str
    tier: str
    model: str = ""
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    data: Any = Field(default=None, description="The parsed JSON, when a schema was asked for.")
    fallbacks: list[str] = Field(default_factory=list, description="'tier: why' for each tier skipped.")
    first_token_ms: float | None = None
    latency_ms: float = 0.0


@event("ai.tier_call")
class TierRequest(Event):
    """The router asks one tier over the bus (``lw.ai.tier.<name>.generate`` or ``.stream``).

    Used when tiers run as their own services (``loreweave serve run --tier NAME``); on one
    Ray cluster the same call goes through a Serve handle instead.
    """

    request_id: str = Field(description="Id of the ai.generate request being answered.")
    kind: RequestClass
    prompt: str = Field(default="", max_length=32_000)
    context: dict[str, str] = Field(default_factory=dict)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    temperature: float | None = Field(default=None, ge=0, le=2)
    json_schema: dict[str, Any] | None = None
    deadline: float | None = Field(default=None, description="Unix time after which nobody waits for the answer.")


@event("ai.tier_delta")
class TierDelta(Event):
    """New text from a streaming tier; the stream ends with a delta whose ``last`` is true."""

    text: str = ""
    completion_tokens: int = Field(default=0, ge=0)
    prompt_tokens: int = Field(default=0, ge=0)
    finish_reason: str | None = None
    last: bool = False


@event("ai.tier_completion")
class TierCompletion(Event):
    """A tier's whole answer to an ``ai.tier_call``."""

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    first_token_s: float | None = None
    data: Any = Field(default=None, description="The parsed JSON, when the call asked for a schema.")


@event("ai.tier_cancel")
class TierCancel(Event):
    """The router gave up on a tier call (fell back, or its caller left): the tier stops that work."""

    call_id: str = Field(description="Frame id of the ai.tier_call to stop.")
