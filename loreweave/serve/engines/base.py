"""The one async interface every engine implements: ``stream`` (and ``generate`` on top of it)."""

from __future__ import annotations

import abc
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping

from loreweave.serve.tiers import Sampling


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """What an engine is asked: the prompt, the context it is about, and how to sample."""

    request_id: str
    kind: str
    prompt: str
    sampling: Sampling
    context: Mapping[str, str] = field(default_factory=dict)
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Delta:
    """New text from a streaming engine, with the running token counts."""

    text: str
    completion_tokens: int
    prompt_tokens: int = 0
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished generation."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    first_token_s: float | None = None
    #: The parsed JSON, when the request asked for a schema (set by the tier after validation).
    data: Any = None


class Engine(abc.ABC):
    """A text generator behind a tier.

    Cancellation is asyncio cancellation: cancelling the task awaiting :meth:`generate`,
    or closing the iterator of :meth:`stream`, stops the work (and frees its slot).
    """

    #: Engine name as written in a tier's configuration.
    name: str = ""

    def __init__(self, model: str | None, engine_args: Mapping[str, Any]) -> None:
        self.model = model or ""
        self.engine_args = dict(engine_args)

    async def start(self) -> None:
        """Load the model; called once before the first request."""

    async def close(self) -> None:
        """Free the model and its processes."""

    @abc.abstractmethod
    def stream(self, request: EngineRequest) -> AsyncIterator[Delta]:
        """Yield the answer in pieces as they are produced; the last one has ``finish_reason``."""

    async def generate(self, request: EngineRequest) -> Completion:
        """Return the whole answer."""
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        last: Delta | None = None
        async for delta in self.stream(request):
            if first is None and delta.text:
                first = time.perf_counter() - started
            parts.append(delta.text)
            last = delta
        return Completion(
            text="".join(parts),
            finish_reason=(last.finish_reason if last else None) or "stop",
            prompt_tokens=last.prompt_tokens if last else 0,
            completion_tokens=last.completion_tokens if last else 0,
            first_token_s=first,
        )
