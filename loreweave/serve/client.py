"""What actors call: ask the AI layer for a line over NATS, whole or streamed.

    ai = AIClient(ctx.actor.bus)
    result = await ai.generate("w1", GenerateRequest(kind="dialogue", prompt="...", context={...}))
    async with ai.stream("w1", request) as answer:
        async for chunk in answer:
            ...                     # first words reach the game before the line is finished
    answer.result                   # the whole GenerateResult

Failures raise the typed errors of :mod:`loreweave.serve.errors`.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from loreweave.actors.runtime import Bus
from loreweave.protocol import Frame, frame_headers
from loreweave.schemas import ErrorReply
from loreweave.serve.errors import AIError, DeadlineExceeded, Unavailable, error_for
from loreweave.serve.messages import GenerateChunk, GenerateRequest, GenerateResult

DEFAULT_TIMEOUT_S = 5.0
#: How long past its deadline the client waits for the bridge's own timeout reply.
REPLY_GRACE_S = 0.25


class AIClient:
    """Requests to the AI layer through the bus bridge."""

    def __init__(
        self,
        bus: Bus,
        *,
        source: str = "ai-client",
        subject: str = "lw.ai.generate",
        stream_subject: str = "lw.ai.stream",
    ) -> None:
        self.bus = bus
        self.source = source
        self.subject = subject
        self.stream_subject = stream_subject

    def _frame(self, world: str, request: GenerateRequest, timeout: float | None, cause: Frame | None) -> Frame:
        timeout_s = timeout or (request.timeout_ms / 1000 if request.timeout_ms else DEFAULT_TIMEOUT_S)
        request = request.model_copy(update={"timeout_ms": timeout_s * 1000})
        frame = Frame(type=request.TYPE, world=world, payload=request, source=self.source, version=request.VERSION)
        if cause is not None:
            frame.correlation_id = cause.correlation_id
            frame.causation_id = cause.id
        return frame

    async def generate(
        self, world: str, request: GenerateRequest, *, timeout: float | None = None, cause: Frame | None = None
    ) -> GenerateResult:
        """Ask for the whole answer; ``timeout`` (seconds) is the deadline the AI layer honours.

        Raises:
            AIError: typed by the error reply's code (``Overloaded``, ``RateLimited``,
                ``DeadlineExceeded``, ``Unavailable``...).
        """
        frame = self._frame(world, request, timeout, cause)
        deadline_s = frame.payload.timeout_ms / 1000
        try:
            msg = await self.bus.nc.request(
                self.subject, self.bus.encode(frame), timeout=deadline_s + REPLY_GRACE_S,
                headers=frame_headers(frame),
            )
        except NoRespondersError:
            raise Unavailable("bridge", f"nobody answers on {self.subject}") from None
        except NatsTimeoutError:
            raise DeadlineExceeded("deadline", f"no answer within {deadline_s:g}s") from None
        payload: Any = self.bus.decode(msg.data).payload
        if isinstance(payload, ErrorReply):
            raise error_for(payload.code, payload.field, payload.message)
        if not isinstance(payload, GenerateResult):
            raise AIError("reply", f"expected ai.result, got {type(payload).__name__}")
        return payload

    def stream(
        self, world: str, request: GenerateRequest, *, timeout: float | None = None, cause: Frame | None = None
    ) -> AnswerStream:
        """Ask for a streamed answer: ``async with client.stream(...) as answer: async for chunk in answer``."""
        return AnswerStream(self, self._frame(world, request, timeout, cause))


class AnswerStream:
    """The chunks of one streamed answer; ``result`` is set once the last chunk arrived."""

    def __init__(self, client: AIClient, frame: Frame) -> None:
        self.client = client
        self.frame = frame
        self.result: GenerateResult | None = None
        self.text = ""
        self._sub: Subscription | None = None
        self._deadline = 0.0

    async def __aenter__(self) -> AnswerStream:
        nc = self.client.bus.nc
        inbox = nc.new_inbox()
        self._sub = await nc.subscribe(inbox, pending_msgs_limit=65_536)
        self._deadline = time.monotonic() + self.frame.payload.timeout_ms / 1000 + REPLY_GRACE_S
        try:
            await nc.publish(
                self.client.stream_subject, self.client.bus.encode(self.frame), reply=inbox,
                headers=frame_headers(self.frame),
            )
        except NoRespondersError:  # pragma: no cover - publish does not report it today
            raise Unavailable("bridge", f"nobody answers on {self.client.stream_subject}") from None
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop listening (the bridge's work ends at its deadline)."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()

    def __aiter__(self) -> AnswerStream:
        return self

    async def __anext__(self) -> GenerateChunk:
        if self.result is not None or self._sub is None:
            raise StopAsyncIteration
        remaining = self._deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise NatsTimeoutError
            msg = await self._sub.next_msg(timeout=remaining)
        except NatsTimeoutError:
            await self.aclose()
            raise DeadlineExceeded("deadline", "the stream did not finish in time") from None
        frame = self.client.bus.decode(msg.data)
        payload: Any = frame.payload
        if isinstance(payload, GenerateChunk):
            self.text += payload.text
            return payload
        await self.aclose()
        if isinstance(payload, GenerateResult):
            self.result = payload
            raise StopAsyncIteration
        if isinstance(payload, ErrorReply):
            raise error_for(payload.code, payload.field, payload.message)
        raise AIError("reply", f"unexpected {frame.type} in a stream")
