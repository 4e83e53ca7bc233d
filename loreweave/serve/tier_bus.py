"""Tiers in their own services: a tier answers the router over NATS.

On one Ray cluster the router reaches its tiers through Serve handles. When each tier is a
service of its own (``loreweave serve run --tier gold`` on a GPU task of ``deploy/ecs``), its
:class:`TierEndpoint` answers ``lw.ai.tier.<name>.generate`` and ``lw.ai.tier.<name>.stream``
as the queue group ``lw-tier-<name>``, so the tier's tasks share the load; the router
(``loreweave serve run --router``) reaches it with a :class:`BusTierClient`, which it treats
like any tier client. No responders (the service is down) is a tier failure and the route
falls back; a full endpoint answers ``overloaded``, which the router counts as saturation.
When the router gives up on a call (a fallback, or its caller left) the client publishes
``ai.tier_cancel`` on ``lw.ai.tier.<name>.cancel`` and the endpoint holding the call stops it;
a call is also stopped at its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, AsyncIterator

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from opentelemetry import trace

from loreweave.actors.runtime import Bus, frame_for
from loreweave.protocol import Frame, check_token, frame_headers, new_frame_id, trace_context
from loreweave.schemas import ErrorReply, TierCancel, TierCompletion, TierDelta, TierRequest
from loreweave.serve.bridge import error_frame, failure_reply
from loreweave.serve.engines import Completion, Delta
from loreweave.serve.errors import AIError, DeadlineExceeded, Overloaded, TierFailed, error_for
from loreweave.serve.messages import TierCall
from loreweave.serve.router import Saturated, TierClient

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("loreweave.serve")
SOURCE = "ai-tier"
#: How long a call with no deadline may run on an endpoint.
DEFAULT_CALL_S = 60.0
#: Extra time a client waits past the deadline for the endpoint's own timeout reply.
REPLY_GRACE_S = 0.25
_NO_RESPONDERS = "503"


@dataclass(frozen=True, slots=True)
class TierSubjects:
    """The subjects a tier answers on, and the queue group its endpoints share."""

    generate: str
    stream: str
    cancel: str
    queue: str

    @classmethod
    def of(cls, tier: str) -> TierSubjects:
        """The subjects of the tier ``tier`` (a subject token: letters, digits, ``-``, ``_``).

        Raises:
            SubjectError: naming ``tier`` when it cannot be a subject token.
        """
        name = check_token("tier", tier)
        prefix = f"lw.ai.tier.{name}"
        return cls(f"{prefix}.generate", f"{prefix}.stream", f"{prefix}.cancel", f"lw-tier-{name}")


def call_event(call: TierCall) -> TierRequest:
    """A tier call as the event that carries it on the bus."""
    return TierRequest(
        request_id=call.request_id, kind=call.kind, prompt=call.prompt, context=dict(call.context),  # type: ignore[arg-type]
        max_tokens=call.max_tokens, temperature=call.temperature, json_schema=call.json_schema, deadline=call.deadline,
    )


def call_of(frame: Frame) -> TierCall:
    """The tier call an ``ai.tier_call`` frame carries."""
    event: TierRequest = frame.payload
    return TierCall(
        event.request_id, event.kind, event.prompt, dict(event.context), event.max_tokens, event.temperature,
        event.json_schema, event.deadline, frame.world,
    )


class TierEndpoint:
    """Answers one tier's subjects on the bus with ``tier`` (the tier's Serve handle, or any client).

    Args:
        max_in_flight: calls at once on this endpoint; beyond it a call is answered ``overloaded``.
    """

    def __init__(self, bus: Bus, name: str, tier: TierClient, *, max_in_flight: int = 256) -> None:
        self.bus = bus
        self.name = name
        self.tier = tier
        self.subjects = TierSubjects.of(name)
        self.max_in_flight = max_in_flight
        self.counters: Counter[str] = Counter()
        self._subscriptions: list[Subscription] = []
        self._calls: dict[str, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Subscribe the tier's subjects (the calls as the queue group, cancels as every endpoint)."""
        nc = self.bus.nc
        self._subscriptions = [
            await nc.subscribe(self.subjects.generate, queue=self.subjects.queue, cb=self._offer_generate,
                               pending_msgs_limit=65_536),
            await nc.subscribe(self.subjects.stream, queue=self.subjects.queue, cb=self._offer_stream,
                               pending_msgs_limit=65_536),
            await nc.subscribe(self.subjects.cancel, cb=self._cancel),
        ]
        await self.bus.sync()
        logger.info("tier %s answering on %s and %s", self.name, self.subjects.generate, self.subjects.stream)

    async def close(self) -> None:
        """Stop taking calls and let those in flight finish (5 s at most)."""
        for sub in self._subscriptions:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subscriptions.clear()
        if self._calls:
            _, pending = await asyncio.wait(list(self._calls.values()), timeout=5)
            for task in pending:
                task.cancel()

    def stats(self) -> dict[str, Any]:
        """Counters (calls, answered, cancelled, errors by code) and calls in flight."""
        return {"counters": dict(self.counters), "in_flight": len(self._calls)}

    # -- per call ---------------------------------------------------------------------------

    async def _offer_generate(self, msg: Msg) -> None:
        self._offer(msg, self._generate)

    async def _offer_stream(self, msg: Msg) -> None:
        self._offer(msg, self._stream)

    def _offer(self, msg: Msg, answer: Any) -> None:
        self.counters["calls"] += 1
        try:
            frame = self.bus.decode(msg.data, msg.subject)
            if not isinstance(frame.payload, TierRequest):
                raise AIError("type", f"must be 'ai.tier_call', got {frame.type!r}")
        except Exception as exc:
            self._spawn(new_frame_id(), self._reply_error(msg, None, exc))
            return
        if len(self._calls) >= self.max_in_flight:
            self._spawn(frame.id, self._reply_error(msg, frame, Overloaded(f"tiers.{self.name}", "endpoint full")))
            return
        self._spawn(frame.id, answer(msg, frame))

    def _spawn(self, call_id: str, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._calls[call_id] = task
        task.add_done_callback(lambda _: self._calls.pop(call_id, None))

    async def _cancel(self, msg: Msg) -> None:
        try:
            payload = self.bus.decode(msg.data, msg.subject).payload
        except Exception:
            logger.warning("tier %s: undecodable cancel on %s", self.name, msg.subject)
            return
        task = self._calls.get(payload.call_id) if isinstance(payload, TierCancel) else None
        if task is not None:
            self.counters["cancelled"] += 1
            task.cancel()

    @staticmethod
    def _time_left(request: TierRequest) -> float:
        if request.deadline is None:
            return DEFAULT_CALL_S
        left = request.deadline - time.time()
        if left <= 0:
            raise DeadlineExceeded("deadline", "passed before the tier took the call")
        return left

    async def _generate(self, msg: Msg, frame: Frame) -> None:
        request: TierRequest = frame.payload
        with tracer.start_as_current_span(f"ai.tier.{self.name}", context=trace_context(msg.headers)):
            try:
                async with asyncio.timeout(self._time_left(request)):
                    completion = await self.tier.generate(call_of(frame))
                answer = TierCompletion(
                    text=completion.text, finish_reason=completion.finish_reason,
                    prompt_tokens=completion.prompt_tokens, completion_tokens=completion.completion_tokens,
                    first_token_s=completion.first_token_s, data=completion.data,
                )
                await self.bus.respond(msg, frame.caused(answer.TYPE, answer, source=SOURCE, index=0))
                self.counters["answered"] += 1
            except TimeoutError:
                await self._reply_error(msg, frame, DeadlineExceeded("deadline", f"passed while {self.name} worked"))
            except Exception as exc:
                await self._reply_error(msg, frame, exc)

    async def _stream(self, msg: Msg, frame: Frame) -> None:
        request: TierRequest = frame.payload
        index = 0
        with tracer.start_as_current_span(f"ai.tier.{self.name}.stream", context=trace_context(msg.headers)):
            try:
                async with asyncio.timeout(self._time_left(request)):
                    async for delta in self.tier.stream(call_of(frame)):
                        piece = TierDelta(text=delta.text, completion_tokens=delta.completion_tokens,
                                          prompt_tokens=delta.prompt_tokens, finish_reason=delta.finish_reason)
                        await self.bus.respond(msg, frame.caused(piece.TYPE, piece, source=SOURCE, index=index))
                        index += 1
                end = TierDelta(last=True)
                await self.bus.respond(msg, frame.caused(end.TYPE, end, source=SOURCE, index=index))
                self.counters["answered"] += 1
            except TimeoutError:
                await self._reply_error(msg, frame, DeadlineExceeded("deadline", f"passed while {self.name} streamed"))
            except Exception as exc:
                await self._reply_error(msg, frame, exc)

    async def _reply_error(self, msg: Msg, frame: Frame | None, exc: BaseException) -> None:
        reply = (
            ErrorReply(code="overloaded", message=str(exc) or "queue full", field=f"tiers.{self.name}")
            if isinstance(exc, Saturated) else failure_reply(exc)
        )
        self.counters[f"error.{reply.code}"] += 1
        try:
            await self.bus.respond(msg, error_frame(frame, reply, SOURCE))
        except Exception:
            logger.exception("tier %s: could not send the error reply", self.name)


class BusTierClient:
    """Reaches a tier's endpoints over NATS; what the router uses for tiers in other services."""

    def __init__(self, bus: Bus, name: str) -> None:
        self.bus = bus
        self.name = name
        self.subjects = TierSubjects.of(name)

    def _frame(self, call: TierCall) -> Frame:
        event = call_event(call)
        return frame_for(event, call.world, "ai-router")

    @staticmethod
    def _wait_s(call: TierCall) -> float:
        left = (call.deadline - time.time()) if call.deadline is not None else DEFAULT_CALL_S
        return max(left, 0.001) + REPLY_GRACE_S

    def _failure(self, payload: Any) -> Exception:
        if isinstance(payload, ErrorReply):
            if payload.code == "overloaded":
                return Saturated(f"{self.name}: {payload.message}")
            return error_for(payload.code, payload.field, payload.message)
        return TierFailed(f"tiers.{self.name}", f"unexpected {type(payload).__name__} from the tier")

    async def generate(self, call: TierCall) -> Completion:
        """The whole answer; cancelling the caller cancels the tier's work."""
        frame = self._frame(call)
        try:
            msg = await self.bus.nc.request(
                self.subjects.generate, self.bus.encode(frame), timeout=self._wait_s(call), headers=frame_headers(frame)
            )
        except NoRespondersError:
            raise TierFailed(f"tiers.{self.name}", f"nobody answers on {self.subjects.generate}") from None
        except NatsTimeoutError:
            await self._cancel(frame)
            raise DeadlineExceeded("deadline", f"{self.name} did not answer in time") from None
        except asyncio.CancelledError:
            await asyncio.shield(self._cancel(frame))
            raise
        payload = self.bus.decode(msg.data).payload
        if not isinstance(payload, TierCompletion):
            raise self._failure(payload)
        return Completion(payload.text, payload.finish_reason, payload.prompt_tokens, payload.completion_tokens,
                          payload.first_token_s, payload.data)

    async def stream(self, call: TierCall) -> AsyncIterator[Delta]:
        """The answer in pieces; closing the iterator early cancels the tier's work."""
        frame = self._frame(call)
        nc = self.bus.nc
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox, pending_msgs_limit=65_536)
        finished = False
        try:
            await nc.publish(self.subjects.stream, self.bus.encode(frame), reply=inbox, headers=frame_headers(frame))
            until = time.monotonic() + self._wait_s(call)
            while True:
                try:
                    msg = await sub.next_msg(timeout=max(until - time.monotonic(), 0.001))
                except NatsTimeoutError:
                    raise DeadlineExceeded("deadline", f"{self.name} did not finish its stream in time") from None
                if not msg.data and (msg.headers or {}).get("Status") == _NO_RESPONDERS:
                    finished = True
                    raise TierFailed(f"tiers.{self.name}", f"nobody answers on {self.subjects.stream}")
                payload = self.bus.decode(msg.data).payload
                if not isinstance(payload, TierDelta):
                    finished = True
                    raise self._failure(payload)
                if payload.last:
                    finished = True
                    return
                yield Delta(payload.text, payload.completion_tokens, payload.prompt_tokens, payload.finish_reason)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            if not finished:
                await asyncio.shield(self._cancel(frame))

    async def _cancel(self, frame: Frame) -> None:
        event = TierCancel(call_id=frame.id)
        cancel = frame.caused(event.TYPE, event, source="ai-router", index=0)
        with contextlib.suppress(Exception):
            await self.bus.nc.publish(self.subjects.cancel, self.bus.encode(cancel), headers=frame_headers(cancel))
