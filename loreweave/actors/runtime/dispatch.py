"""From a NATS message to an actor handler: decode, order by key, retry, dead-letter, ack."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Hashable

from nats.aio.msg import Msg
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from loreweave.actors.runtime.actor import Actor, Context, HandlerSpec
from loreweave.actors.runtime.bus import Bus
from loreweave.actors.runtime.mailbox import KeyedMailbox
from loreweave.actors.runtime.nats_client import trace_headers
from loreweave.actors.runtime.spans import span_starter
from loreweave.actors.runtime.telemetry import HANDLER_DURATION_EVERY, RuntimeInstruments, tracer
from loreweave.protocol import SYSTEM_WORLD, Frame, FrameError, LoreweaveError, peek_ids, trace_context
from loreweave.schemas import ErrorReply

logger = logging.getLogger(__name__)

Delivery = tuple[Frame, Msg]
#: What an actor's mailbox holds: the handler to run, and its frame and message.
MailItem = tuple["HandlerRunner", Frame, Msg]


async def run_mail(item: MailItem) -> None:
    """The mailbox handler shared by every handler of an actor: run the item's handler."""
    runner, frame, msg = item
    handled = False
    try:
        handled = await runner._process((frame, msg))
    finally:
        if runner.on_done is not None:
            runner.on_done(runner, frame, handled)


def actor_mailbox(capacity: int) -> KeyedMailbox[MailItem]:
    """A mailbox for all the handlers of one actor: frames with the same key, whichever
    handler takes them, run one at a time in arrival order."""
    return KeyedMailbox(run_mail, capacity)


class RecentIds:
    """At least the last ``size`` frame ids handled (at most twice as many), to skip duplicates and redeliveries."""

    def __init__(self, size: int = 100_000) -> None:
        # Two generations of sets: adding and testing are one set operation each, and a full
        # generation is dropped whole instead of forgetting ids one by one.
        self._current: set[str] = set()
        self._previous: set[str] = set()
        self._size = size

    def __contains__(self, frame_id: str) -> bool:
        return frame_id in self._current or frame_id in self._previous

    def add(self, frame_id: str) -> None:
        """Remember a handled id, forgetting the oldest generation once this one holds ``size``."""
        current = self._current
        current.add(frame_id)
        if len(current) >= self._size:
            self._previous, self._current = current, set()


class HandlerRunner:
    """Runs one declared handler of one actor over the frames its subscription receives."""

    def __init__(
        self,
        actor: Actor,
        spec: HandlerSpec,
        bus: Bus,
        instruments: RuntimeInstruments,
        *,
        capacity: int,
        attempts: int,
        retry_backoff_s: float = 0.05,
        mailbox: KeyedMailbox[MailItem] | None = None,
    ) -> None:
        self.actor = actor
        self.spec = spec
        self.bus = bus
        self.instruments = instruments
        self.attempts = 1 if spec.kind == "request" else attempts
        self.retry_backoff_s = retry_backoff_s
        self.mailbox = mailbox if mailbox is not None else actor_mailbox(capacity)
        self.recent = RecentIds()
        #: Called with ``(runner, frame, applied)`` once a queued frame is done with: ``applied`` when
        #: an event handler succeeded on it (world placement tracks what a snapshot covers).
        self.on_done: Callable[[HandlerRunner, Frame, bool], None] | None = None
        self._fn: Callable[..., Awaitable[Any]] = getattr(actor, spec.method)
        self._span_name = f"{actor.name}.{spec.method}"
        self._reply_scope = f"{self._span_name}:reply"
        self._attributes = {"lw.actor": actor.name, "lw.handler": spec.method}
        self._attributes_key = tuple(self._attributes.items())
        self._key = self._key_function(spec)
        #: Frames to run before the next one whose duration is recorded (see HANDLER_DURATION_EVERY).
        self._untimed = 0
        self._tracer = tracer()
        # With no SDK installed, skip span bookkeeping altogether on the hot path.
        self._tracing = not isinstance(
            trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        ) and not isinstance(self._tracer, trace.NoOpTracer)
        self._start_span = span_starter(self._tracer, self._span_name) if self._tracing else None

    @staticmethod
    def _key_function(spec: HandlerSpec) -> Callable[[Frame], Hashable]:
        key = spec.key
        if callable(key):
            return key
        if isinstance(key, str):
            field = key
            return lambda frame: (frame.world, getattr(frame.payload, field, None))
        return lambda frame: (frame.world, getattr(frame.payload, "key", None))

    async def offer(self, msg: Msg) -> bool:
        """Decode a message and queue it for its key; dead-letter it if it cannot be decoded.

        Waits while the actor's mailbox is full (backpressure). Returns whether it was queued.
        """
        try:
            frame = self.bus.decode(msg.data, msg.subject)
        except FrameError as exc:
            await self._dead_letter(msg, exc.code, str(exc))
            return False
        return await self.mailbox.put(self._key(frame), (self, frame, msg))

    def offer_now(self, msg: Msg) -> bool:
        """Decode a message and queue it for its key if the mailbox has room now; whether it was queued.

        Anything else (a full mailbox, a frame that does not decode, a key function that raises)
        is left to :meth:`offer`, which waits for room, dead-letters or raises.
        """
        mailbox = self.mailbox
        if mailbox.free <= 0:
            return False
        try:
            frame = self.bus.decode(msg.data, msg.subject)
            key = self._key(frame)
        except Exception:
            return False
        return mailbox.put_nowait(key, (self, frame, msg))

    async def offer_frame(self, frame: Frame, msg: Msg) -> bool:
        """Queue a frame decoded already (one decoding for every handler that takes it); whether queued."""
        return await self.mailbox.put(self._key(frame), (self, frame, msg))

    async def dead_letter(self, msg: Msg, reason: str, error: str) -> None:
        """Keep an unhandled frame on ``lw.dlq.<reason>`` and count it (no ack, no reply)."""
        logger.warning("dead letter %s from %s: %s", reason, msg.subject, error)
        await self.bus.dead_letter(msg.data, msg.subject, reason, error, actor=self.actor.name)
        self.instruments.dead_lettered.add(1, {**self._attributes, "lw.reason": reason})

    async def _dead_letter(self, msg: Msg, reason: str, error: str) -> None:
        await self.dead_letter(msg, reason, error)
        if self.spec.durable:
            await msg.ack()
        elif self.spec.kind == "request":
            await self._reply_error(None, msg, reason, error, None)

    async def invoke(self, frame: Frame, msg: Msg, ctx: Context) -> Any:
        """Run the handler once in a span parented by the frame's trace context; record metrics.

        Raises whatever the handler raised, after counting and logging it.
        """
        span: trace.Span = trace.INVALID_SPAN
        token = None
        if self._start_span is not None:
            span, current = self._start_span(
                trace_context(trace_headers(msg)), {"messaging.destination.name": msg.subject, "lw.frame_id": frame.id}
            )
            token = otel_context.attach(current)
        timed = self._untimed == 0
        self._untimed = HANDLER_DURATION_EVERY - 1 if timed else self._untimed - 1
        started = time.perf_counter() if timed else 0.0
        try:
            result = await self._fn(frame.payload, ctx)
        except LoreweaveError as exc:
            if self.spec.kind != "request":
                self._failed(frame, span, exc)
            else:  # a refused request is an answer, not a failure
                logger.info("%s refused frame %s: %s", self._span_name, frame.id, exc)
            raise
        except Exception as exc:
            self._failed(frame, span, exc)
            raise
        finally:
            if token is not None:
                otel_context.detach(token)
                span.end()
        if timed:
            self.instruments.handler_latency_ms.record((time.perf_counter() - started) * 1000, self._attributes)
        self.instruments.handled.add_key(1, self._attributes_key)
        return result

    def _failed(self, frame: Frame, span: trace.Span, exc: Exception) -> None:
        self.instruments.failed.add(1, self._attributes)
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, repr(exc)))
        logger.error("%s failed on frame %s: %r", self._span_name, frame.id, exc)

    async def _process(self, delivery: Delivery) -> bool:
        """Run the handler on one frame (retry, dead-letter, reply, ack); whether an event was applied."""
        frame, msg = delivery
        if self.spec.kind == "event" and frame.id in self.recent:
            self.instruments.retried.add(1, self._attributes)
            if self.spec.durable:
                await msg.ack()
            return False
        for attempt in range(1, self.attempts + 1):
            try:
                result = await self.invoke(
                    frame, msg, Context(frame, self.actor, self.spec.durable, handler=self.spec.method)
                )
            except Exception as exc:
                if attempt < self.attempts:
                    await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
                    continue
                if self.spec.kind == "request":
                    await self._reply_error(frame, msg, *_error_code(exc))
                else:
                    await self._dead_letter(msg, "handler_failed", f"{type(exc).__name__}: {exc}")
                return False
            if self.spec.kind == "request":
                await self._reply(frame, msg, result)
                return False
            self.recent.add(frame.id)
            if self.spec.durable:
                await msg.ack()
            return True
        return False

    async def _reply(self, frame: Frame, msg: Msg, result: Any) -> None:
        if result is None:
            await self._reply_error(frame, msg, "handler_failed", "the handler returned no reply", None)
            return
        answer = frame.caused(
            result.TYPE, result, source=self.actor.name, index=0, version=result.VERSION, scope=self._reply_scope
        )
        await self.bus.respond(msg, answer)

    async def reply_unavailable(self, msg: Msg, world: str) -> None:
        """Answer a request nobody can answer right now (its world is moving between nodes): retry."""
        await self._reply_error(
            None, msg, "unavailable", f"world {world!r} is moving to another node; retry shortly", None
        )

    async def _reply_error(
        self, frame: Frame | None, msg: Msg, code: str, message: str, field: str | None
    ) -> None:
        error = ErrorReply(code=code, message=message, field=field)
        if frame is not None:
            answer = frame.caused(error.TYPE, error, source=self.actor.name, index=0, scope=self._reply_scope)
        else:  # not decodable: still name the request, if its ids survive in the bytes
            request_id, correlation_id = peek_ids(msg.data)
            answer = Frame(
                type=error.TYPE, world=SYSTEM_WORLD, payload=error, source=self.actor.name,
                correlation_id=correlation_id or request_id or "", causation_id=request_id,
            )
        await self.bus.respond(msg, answer)


def _error_code(exc: Exception) -> tuple[str, str, str | None]:
    if isinstance(exc, LoreweaveError):
        return "bad_request", exc.reason, exc.field
    return "handler_failed", f"{type(exc).__name__}: {exc}", None
