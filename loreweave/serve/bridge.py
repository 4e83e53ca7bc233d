"""The bus bridge: NATS request/reply on ``lw.ai.generate`` (and ``lw.ai.stream``) ↔ the router.

A request is an ``ai.generate`` frame. ``lw.ai.generate`` is answered with one
``ai.result`` frame; on ``lw.ai.stream`` each ``ai.chunk`` frame goes to the request's
reply subject as soon as the tier writes it, then the ``ai.result``. Every failure
becomes a ``sys.error`` reply whose ``code`` a program can branch on (``overloaded``,
``rate_limited``, ``quota_exceeded``, ``timeout``, ``bad_request``, ``unavailable``...).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, AsyncIterator, Protocol

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import propagate, trace

from loreweave.actors.runtime import Bus
from loreweave.config import load_settings
from loreweave.protocol import Frame, LoreweaveError, new_frame_id, trace_context
from loreweave.protocol.errors import ConfigError
from loreweave.schemas import ErrorReply
from loreweave.serve.errors import AIError, BadRequest, DeadlineExceeded, Overloaded, root_cause
from loreweave.serve.messages import CallContext, GenerateChunk, GenerateRequest, GenerateResult
from loreweave.serve.tiers import BridgeConfig

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("loreweave.serve")
SOURCE = "ai-bridge"
#: Extra time the bridge waits past the deadline for the router's own timeout reply.
GRACE_S = 0.05


class RouterClient(Protocol):
    """What the bridge calls: the router's Serve handle, or a router in the same process."""

    async def generate(self, request: GenerateRequest, ctx: CallContext) -> GenerateResult:
        """Route a request; return the whole answer."""

    def stream(self, request: GenerateRequest, ctx: CallContext) -> AsyncIterator[GenerateChunk | GenerateResult]:
        """Route a request; yield chunks, then the result."""


async def connect_bus(config: BridgeConfig, name: str) -> Bus:
    """A bus connection to ``config.nats_url`` (default ``LOREWEAVE_NATS_URL``).

    Raises:
        ConfigError: when no NATS URL is configured.
    """
    url = config.nats_url or load_settings().nats_url
    if not url:
        raise ConfigError("bridge.nats_url", "is not set and LOREWEAVE_NATS_URL is empty")
    return await Bus.connect(url, name=name)


def failure_reply(exc: BaseException) -> ErrorReply:
    """The typed error reply for any failure (Ray's wrappers are looked through)."""
    cause = root_cause(exc)
    if isinstance(cause, AIError):
        return ErrorReply(code=cause.code, message=cause.reason, field=cause.field)
    if isinstance(cause, LoreweaveError):
        return ErrorReply(code="bad_request", message=cause.reason, field=cause.field)
    if isinstance(cause, asyncio.TimeoutError):
        return ErrorReply(code="timeout", message="no answer before the deadline", field="deadline")
    name = type(cause).__name__
    if name == "BackPressureError":
        return ErrorReply(code="overloaded", message="the AI layer's queues are full", field="router")
    if name in {"DeploymentUnavailableError", "ReplicaUnavailableError", "ActorDiedError", "RayActorError",
                "ActorUnavailableError"}:
        return ErrorReply(code="unavailable", message=f"{name}: {cause}"[:500], field="router")
    logger.error("ai request failed", exc_info=(type(cause), cause, cause.__traceback__))
    return ErrorReply(code="internal", message=f"{name}: {cause}"[:500], field=None)


def error_frame(request: Frame | None, reply: ErrorReply, source: str) -> Frame:
    """The frame answering ``request`` with ``reply`` (a root frame when the request could not be read)."""
    if request is not None:
        return request.caused(ErrorReply.TYPE, reply, source=source, index=1_000_000)
    return Frame(type=ErrorReply.TYPE, world="unknown", payload=reply, source=source, version=ErrorReply.VERSION,
                 id=new_frame_id())


class Bridge:
    """Subscribes the AI subjects (as a queue group) and forwards each request to the router."""

    def __init__(self, bus: Bus, router: RouterClient, config: BridgeConfig | None = None) -> None:
        self.bus = bus
        self.router = router
        self.config = config or BridgeConfig()
        self.counters: Counter[str] = Counter()
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._owns_bus = False

    @classmethod
    async def connect(cls, config: BridgeConfig, router: RouterClient) -> Bridge:
        """Connect to ``config.nats_url`` (default ``LOREWEAVE_NATS_URL``) and start answering.

        Raises:
            ConfigError: when no NATS URL is configured.
        """
        bus = await connect_bus(config, "loreweave-ai-bridge")
        bridge = cls(bus, router, config)
        bridge._owns_bus = True
        await bridge.start()
        return bridge

    @property
    def connected(self) -> bool:
        """Whether the NATS connection is up."""
        return bool(self.bus.nc.is_connected)

    async def start(self) -> None:
        """Subscribe both subjects."""
        for subject, handler in (
            (self.config.subject, self._answer),
            (self.config.stream_subject, self._answer_stream),
        ):
            async def offer(msg: Msg, handler: Any = handler) -> None:
                self._spawn(msg, handler)

            self._subscriptions.append(
                await self.bus.nc.subscribe(subject, queue=self.config.queue, cb=offer, pending_msgs_limit=65_536)
            )
        await self.bus.sync()  # the server knows both subscriptions before requests are sent
        logger.info("ai bridge answering on %s and %s", self.config.subject, self.config.stream_subject)

    async def close(self) -> None:
        """Stop taking requests, let in-flight ones finish (5 s at most), then close the bus if owned."""
        for sub in self._subscriptions:
            try:
                await sub.unsubscribe()
            except Exception:
                logger.debug("unsubscribe failed", exc_info=True)
        self._subscriptions.clear()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                task.cancel()
        if self._owns_bus:
            await self.bus.close()

    def stats(self) -> dict[str, Any]:
        """Counters: requests, answers, errors by code, in flight."""
        return {"counters": dict(self.counters), "in_flight": len(self._tasks)}

    # -- per request ------------------------------------------------------------------------

    def _spawn(self, msg: Msg, handler: Any) -> None:
        self.counters["requests"] += 1
        if len(self._tasks) >= self.config.max_in_flight:
            self._spawn_task(self._reply_error(msg, None, Overloaded("bridge", "too many requests in flight")))
            return
        self._spawn_task(handler(msg))

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _open(self, msg: Msg) -> tuple[Frame, GenerateRequest, CallContext]:
        frame = self.bus.decode(msg.data, msg.subject)
        if not isinstance(frame.payload, GenerateRequest):
            raise BadRequest("type", f"must be 'ai.generate', got {frame.type!r}")
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        ctx = CallContext.start(
            frame.world, frame.payload, frame.id, default_timeout_ms=self.config.default_timeout_ms, trace=carrier
        )
        return frame, frame.payload, ctx

    async def _answer(self, msg: Msg) -> None:
        frame: Frame | None = None
        with tracer.start_as_current_span("ai.generate", context=trace_context(msg.headers)):
            try:
                frame, request, ctx = self._open(msg)
                try:
                    result = await asyncio.wait_for(self.router.generate(request, ctx), ctx.remaining() + GRACE_S)
                except asyncio.TimeoutError:
                    raise DeadlineExceeded("deadline", "passed before an answer; the request was cancelled") from None
                await self.bus.respond(msg, frame.caused(result.TYPE, result, source=SOURCE, index=0))
                self.counters["answered"] += 1
            except Exception as exc:
                await self._reply_error(msg, frame, exc)

    async def _answer_stream(self, msg: Msg) -> None:
        frame: Frame | None = None
        with tracer.start_as_current_span("ai.stream", context=trace_context(msg.headers)):
            try:
                frame, request, ctx = self._open(msg)
                index = 0
                async with asyncio.timeout(ctx.remaining() + GRACE_S):
                    async for item in self.router.stream(request, ctx):
                        await self.bus.respond(msg, frame.caused(item.TYPE, item, source=SOURCE, index=index))
                        index += 1
                self.counters["answered"] += 1
            except TimeoutError:
                await self._reply_error(msg, frame, DeadlineExceeded("deadline", "passed while streaming"))
            except Exception as exc:
                await self._reply_error(msg, frame, exc)

    async def _reply_error(self, msg: Msg, frame: Frame | None, exc: BaseException) -> None:
        reply = failure_reply(exc)
        self.counters[f"error.{reply.code}"] += 1
        try:
            await self.bus.respond(msg, error_frame(frame, reply, SOURCE))
        except Exception:
            logger.exception("could not send the error reply for %s", msg.subject)
