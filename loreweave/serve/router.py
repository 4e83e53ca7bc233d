"""The AI router: picks a tier, falls back, sheds load, enforces caps, and streams.

For each request it walks the route of its class (``dialogue: [gold, bronze]``),
cut by the world's qos level, skipping a tier whose circuit is open (failing) or
that is saturated, and falling back when a tier raises or is over its latency
budget. The scripted engine, run in the router itself, is the last fallback, so a
game always gets a line. Beyond ``max_in_flight`` requests it answers ``overloaded``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, AsyncIterator, Mapping, Protocol

from opentelemetry import propagate, trace

from loreweave.serve.engines import Completion, Delta, EngineRequest, ScriptedEngine
from loreweave.serve.errors import AIError, DeadlineExceeded, InvalidOutput, Overloaded, TierFailed, root_cause
from loreweave.serve.limits import Quotas, QuotaStore, Reservation
from loreweave.serve.messages import CallContext, GenerateChunk, GenerateRequest, GenerateResult, TierCall
from loreweave.serve.structured import check_schema, parse_output
from loreweave.serve.tiers import QOS_ORDER, Qos, RouterConfig, Sampling, TierConfig

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("loreweave.serve")
SCRIPTED = "scripted"
#: Time kept back from the caller's deadline so the scripted fallback can still answer.
DEADLINE_RESERVE_S = 0.02


class TierClient(Protocol):
    """How the router reaches a tier (a Serve handle in production, anything in a unit test)."""

    async def generate(self, call: TierCall) -> Completion:
        """The whole answer; cancelling the awaiting task cancels the tier's work."""

    def stream(self, call: TierCall) -> AsyncIterator[Delta]:
        """The answer in pieces; closing the iterator cancels the tier's work."""


class Saturated(Exception):
    """A tier refused the request because its queue is full (Serve's back-pressure)."""


@dataclass
class TierHealth:
    """A circuit breaker: ``threshold`` failures in a row skip the tier for ``cooldown_s``."""

    threshold: int
    cooldown_s: float
    failures: int = 0
    open_until: float = 0.0
    in_flight: int = 0

    def is_open(self, now: float) -> bool:
        """Whether the tier is skipped now (after the cooldown one trial request goes through)."""
        return now < self.open_until

    def failed(self, now: float) -> None:
        """Count a failure or a blown latency budget."""
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = now + self.cooldown_s

    def succeeded(self) -> None:
        """A good answer closes the circuit."""
        self.failures = 0
        self.open_until = 0.0


def effective_qos(world_qos: Qos, requested: Qos | None) -> Qos:
    """The request may lower its world's qos, never raise it."""
    if requested is None:
        return world_qos
    return max(world_qos, requested, key=QOS_ORDER.index)


class Router:
    """Routes requests to tiers. Wrapped as a Ray Serve deployment by :mod:`loreweave.serve.deployments`."""

    def __init__(
        self,
        config: RouterConfig,
        tiers: Mapping[str, TierConfig],
        clients: Mapping[str, TierClient],
        *,
        quotas: QuotaStore | None = None,
    ) -> None:
        self.config = config
        self.tiers = dict(tiers)
        self.clients = dict(clients)
        self.quotas: QuotaStore = quotas or Quotas()
        self.health = {name: TierHealth(config.failure_threshold, config.cooldown_s) for name in tiers}
        self.fallback = ScriptedEngine()
        self.counters: Counter[str] = Counter()
        self.in_flight = 0

    # -- planning ---------------------------------------------------------------------------

    def plan(self, request: GenerateRequest, world: str) -> list[str]:
        """The tiers to try for a request, in order (the scripted fallback is not listed)."""
        settings = self.config.world(world)
        qos = effective_qos(settings.qos, request.qos)
        route = settings.routes.get(request.kind) or self.config.routes[request.kind]
        if qos == "full":
            return list(route)
        if qos == "reduced":
            return list(route[-1:])
        return []

    def capacity(self, name: str) -> int:
        """Requests this router sends a tier at once before counting it as saturated."""
        return self.tiers[name].capacity

    def _skip_reason(self, name: str, now: float) -> str | None:
        health = self.health[name]
        if health.is_open(now):
            return "circuit open after repeated failures"
        if health.in_flight >= self.capacity(name):
            return f"saturated ({health.in_flight} in flight)"
        return None

    # -- the public calls -------------------------------------------------------------------

    async def generate(self, request: GenerateRequest, ctx: CallContext) -> GenerateResult:
        """Answer a request with the first tier that succeeds within its budget.

        Raises:
            AIError: ``overloaded``, ``rate_limited``, ``quota_exceeded``, ``timeout``, ``bad_request``.
        """
        started = time.perf_counter()
        async with self._admitted(request, ctx, "ai.route") as reservation:
            call = TierCall.of(request, ctx)
            fallbacks: list[str] = []
            for name in self.plan(request, ctx.world):
                reason = self._skip_reason(name, time.time())
                if reason:
                    fallbacks.append(f"{name}: {reason}")
                    continue
                budget = self._budget(ctx, self.tiers[name].latency_budget_ms)
                health = self.health[name]
                health.in_flight += 1
                # Nobody waits past the budget: a tier that gets this call in a batch stops it then.
                until = replace(call, deadline=min(ctx.deadline, time.time() + budget))
                try:
                    completion = await asyncio.wait_for(self.clients[name].generate(until), budget)
                except asyncio.TimeoutError:
                    self._check_deadline(ctx, name)
                    why = self._late(name, budget, self.tiers[name].latency_budget_ms, "over its latency budget")
                    fallbacks.append(f"{name}: {why}")
                    continue
                except Exception as exc:  # any tier failure means: try the next one
                    fallbacks.append(f"{name}: {self._failure(name, exc)}")
                    continue
                finally:
                    health.in_flight -= 1
                health.succeeded()
                result = self._result(name, completion, fallbacks, started)
                await self.quotas.settle(reservation, result.completion_tokens)
                return result
            completion = await self.fallback.generate(self._engine_request(call))
            data = parse_output(completion.text, call.json_schema) if call.json_schema else None
            completion = Completion(
                completion.text, completion.finish_reason, completion.prompt_tokens,
                completion.completion_tokens, completion.first_token_s, data,
            )
            result = self._result(SCRIPTED, completion, fallbacks, started)
            await self.quotas.settle(reservation, 0)
            return result

    async def stream(
        self, request: GenerateRequest, ctx: CallContext
    ) -> AsyncIterator[GenerateChunk | GenerateResult]:
        """Yield chunks as the tier writes them, then the whole result.

        Falls back while nothing has been sent: a tier that fails, or whose first
        token misses its ``first_token_ms`` budget, is cancelled and the next is tried.
        """
        started = time.perf_counter()
        async with self._admitted(request, ctx, "ai.route.stream") as reservation:
            call = TierCall.of(request, ctx)
            fallbacks: list[str] = []
            for name in self.plan(request, ctx.world):
                reason = self._skip_reason(name, time.time())
                if reason:
                    fallbacks.append(f"{name}: {reason}")
                    continue
                tier = self.tiers[name]
                health = self.health[name]
                health.in_flight += 1
                deltas = self.clients[name].stream(call)
                try:
                    budget = self._budget(ctx, tier.first_token_budget_ms)
                    first = await asyncio.wait_for(_first_text(deltas), budget)
                except asyncio.TimeoutError:
                    health.in_flight -= 1
                    await _close(deltas)
                    self._check_deadline(ctx, name)
                    why = self._late(name, budget, tier.first_token_budget_ms, "first token over budget")
                    fallbacks.append(f"{name}: {why}")
                    continue
                except Exception as exc:
                    health.in_flight -= 1
                    await _close(deltas)
                    fallbacks.append(f"{name}: {self._failure(name, exc)}")
                    continue
                tokens = 0
                try:
                    async for item in self._relay(name, first, deltas, call, ctx, fallbacks, started):
                        if isinstance(item, GenerateResult):
                            tokens = item.completion_tokens
                        yield item
                finally:
                    health.in_flight -= 1
                    await _close(deltas)
                health.succeeded()
                await self.quotas.settle(reservation, tokens)
                return
            relay = self._relay(
                SCRIPTED, None, self.fallback.stream(self._engine_request(call)), call, ctx, fallbacks, started
            )
            async for item in relay:
                yield item
            await self.quotas.settle(reservation, 0)

    def stats(self) -> dict[str, Any]:
        """Counters: requests, shed, fallbacks per tier, answers per tier; circuits and in-flight."""
        return {
            "counters": dict(self.counters),
            "in_flight": self.in_flight,
            "tiers": {
                name: {"in_flight": h.in_flight, "failures": h.failures, "open": h.is_open(time.time())}
                for name, h in self.health.items()
            },
        }

    # -- helpers ----------------------------------------------------------------------------

    async def _relay(
        self,
        name: str,
        first: Delta | None,
        deltas: AsyncIterator[Delta],
        call: TierCall,
        ctx: CallContext,
        fallbacks: list[str],
        started: float,
    ) -> AsyncIterator[GenerateChunk | GenerateResult]:
        parts: list[str] = []
        last = first
        first_token_s: float | None = None
        seq = 0
        pending = [first] if first is not None else []
        iterator = deltas.__aiter__()
        while True:
            if pending:
                delta = pending.pop()
            else:
                remaining = ctx.remaining()
                if remaining <= 0:
                    raise DeadlineExceeded("deadline", f"passed while {name} was streaming")
                try:
                    delta = await asyncio.wait_for(iterator.__anext__(), remaining)
                except StopAsyncIteration:
                    break
                except asyncio.TimeoutError:
                    raise DeadlineExceeded("deadline", f"passed while {name} was streaming") from None
                except AIError:
                    raise
                except Exception as exc:
                    if name in self.health:
                        self.health[name].failed(time.time())
                    cause = root_cause(exc)
                    raise TierFailed(
                        f"tiers.{name}", f"failed after streaming began: {type(cause).__name__}: {cause}"
                    ) from None
            last = delta
            if delta.text:
                if first_token_s is None:
                    first_token_s = time.perf_counter() - started
                parts.append(delta.text)
                yield GenerateChunk(seq=seq, text=delta.text, tier=name)
                seq += 1
        text = "".join(parts)
        data = parse_output(text, call.json_schema) if call.json_schema else None
        completion = Completion(
            text, (last.finish_reason if last else None) or "stop", last.prompt_tokens if last else 0,
            last.completion_tokens if last else 0, first_token_s, data,
        )
        yield self._result(name, completion, fallbacks, started)

    @contextlib.asynccontextmanager
    async def _admitted(self, request: GenerateRequest, ctx: CallContext, span: str) -> AsyncIterator[Reservation]:
        """Admit a request (load, schema, deadline, caps) and hold its place while it runs, in a span."""
        self.counters["requests"] += 1
        if self.in_flight >= self.config.max_in_flight:
            self.counters["shed"] += 1
            raise Overloaded("router", f"{self.in_flight} requests in flight (max_in_flight {self.config.max_in_flight})")
        if request.json_schema is not None:
            check_schema(request.json_schema)
        if ctx.remaining() <= 0:
            raise DeadlineExceeded("deadline", "passed before the request was routed")
        settings = self.config.world(ctx.world)
        reserve = request.max_tokens or self._max_tokens(request, ctx.world)
        self.in_flight += 1  # before the caps are asked, which may wait on a shared store
        try:
            reservation = await self.quotas.admit(ctx.world, request.player_id, settings, reserve)
            try:
                with self._span(span, ctx):
                    yield reservation
            except BaseException:
                await self.quotas.settle(reservation, 0)
                raise
        finally:
            self.in_flight -= 1

    def _max_tokens(self, request: GenerateRequest, world: str) -> int:
        plan = self.plan(request, world)
        return self.tiers[plan[0]].sampling.max_tokens if plan else Sampling().max_tokens

    def _budget(self, ctx: CallContext, budget_ms: float) -> float:
        remaining = ctx.remaining()
        if remaining <= 0:
            raise DeadlineExceeded("deadline", "passed before a tier could answer")
        return max(0.001, min(budget_ms / 1000, remaining - DEADLINE_RESERVE_S))

    def _check_deadline(self, ctx: CallContext, name: str) -> None:
        if ctx.remaining() <= 0:
            self.counters["deadline"] += 1
            raise DeadlineExceeded("deadline", f"passed while waiting for {name}; the request was cancelled")

    def _late(self, name: str, waited_s: float, budget_ms: float, what: str) -> str:
        """Why a tier was left for being slow; only its own blown budget counts against its health."""
        self.counters[f"fallback.{name}"] += 1
        if waited_s * 1000 < budget_ms - 1:
            return f"cut short by the caller's deadline ({waited_s * 1000:.0f} ms)"
        self.health[name].failed(time.time())
        return f"{what} ({budget_ms:.0f} ms)"

    def _failure(self, name: str, error: BaseException) -> str:
        self.counters[f"fallback.{name}"] += 1
        exc = root_cause(error)
        if isinstance(exc, Saturated) or type(exc).__name__ == "BackPressureError":
            return "saturated (queue full)"
        self.health[name].failed(time.time())
        if isinstance(exc, InvalidOutput):
            return f"invalid output: {exc}"
        logger.warning("tier %s failed: %s", name, exc)
        return f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"

    def _engine_request(self, call: TierCall) -> EngineRequest:
        sampling = Sampling(max_tokens=call.max_tokens or Sampling().max_tokens)
        return EngineRequest(call.request_id, call.kind, call.prompt, sampling, call.context, call.json_schema)

    def _result(self, name: str, completion: Completion, fallbacks: list[str], started: float) -> GenerateResult:
        self.counters[f"answered.{name}"] += 1
        model = self.tiers[name].model if name in self.tiers else None
        return GenerateResult(
            text=completion.text,
            tier=name,
            model=model or (name if name == SCRIPTED else self.tiers[name].engine),
            finish_reason=completion.finish_reason,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            data=completion.data,
            fallbacks=fallbacks,
            first_token_ms=None if completion.first_token_s is None else completion.first_token_s * 1000,
            latency_ms=(time.perf_counter() - started) * 1000,
        )

    def _span(self, name: str, ctx: CallContext) -> Any:
        return tracer.start_as_current_span(name, context=propagate.extract(ctx.trace))


async def _first_text(deltas: AsyncIterator[Delta]) -> Delta:
    """The first delta that carries text (or the last one, for an empty answer)."""
    async for delta in deltas:
        if delta.text or delta.finish_reason:
            return delta
    return Delta("", 0, 0, "stop")


async def _close(deltas: AsyncIterator[Delta]) -> None:
    close = getattr(deltas, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()
