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
