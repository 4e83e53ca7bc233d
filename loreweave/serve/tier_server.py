"""One tier's replica: an engine with the tier's sampling defaults, output validation and counters."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import pickle
import time
from collections import Counter
from typing import Any, AsyncIterator

from loreweave.serve.engines import Completion, Delta, EngineRequest, build_engine
from loreweave.serve.messages import TierCall
from loreweave.serve.structured import parse_output
from loreweave.serve.tiers import TierConfig

logger = logging.getLogger(__name__)


class TierServer:
    """Serves one tier (wrapped as a Ray Serve deployment by :func:`~loreweave.serve.deployments.build_app`).

    ``stats()`` counts requests, completions, failures and cancellations, so a test
    (or an operator) can see that a caller's cancellation reached the engine.
    """

    async def __init__(self, tier: TierConfig | dict[str, Any]) -> None:  # type: ignore[misc]  # Serve awaits it
        self.tier = TierConfig.model_validate(tier)
        self.engine = build_engine(self.tier.engine, self.tier.model, self.tier.engine_args)
        self.counters: Counter[str] = Counter()
        self.active = 0
        await self.engine.start()
        logger.info("tier %s ready: %s %s", self.tier.name, self.tier.engine, self.engine.model)

    def engine_request(self, call: TierCall) -> EngineRequest:
        """The engine request for a call: the tier's sampling defaults, the call's overrides."""
        sampling = self.tier.sampling
        overrides: dict[str, Any] = {}
        if call.max_tokens is not None:
            overrides["max_tokens"] = call.max_tokens
        if call.temperature is not None:
            overrides["temperature"] = call.temperature
        if overrides:
            sampling = sampling.model_copy(update=overrides)
        return EngineRequest(
            request_id=call.request_id, kind=call.kind, prompt=call.prompt, sampling=sampling,
            context=call.context, json_schema=call.json_schema,
        )

    async def generate(self, call: TierCall) -> Completion:
        """Generate the whole answer; JSON answers are validated against the call's schema."""
        with self._counted():
            completion = await self.engine.generate(self.engine_request(call))
            if call.json_schema is not None:
                completion = dataclasses.replace(completion, data=parse_output(completion.text, call.json_schema))
            return completion

    async def generate_batch(self, calls: list[TierCall]) -> list[Completion | Exception]:
        """Generate several answers at once, each stopped at its call's deadline.

        What one Ray call from the router carries when several requests reach the router
        together: the per-call overhead of Serve is paid once. A failed call is returned
        as its exception (in its place), so one bad call does not fail the others.
        """
        self.counters["batches"] += 1
        outcomes = await asyncio.gather(*(self._until_deadline(call) for call in calls), return_exceptions=True)
        return [_portable(outcome) if isinstance(outcome, BaseException) else outcome for outcome in outcomes]

    async def _until_deadline(self, call: TierCall) -> Completion:
        if call.deadline is None:
            return await self.generate(call)
        return await asyncio.wait_for(self.generate(call), max(0.0, call.deadline - time.time()))

    async def stream(self, call: TierCall) -> AsyncIterator[Delta]:
        """Stream the answer; closing the stream (a cancelled caller) stops the engine."""
        with self._counted():
            async for delta in self.engine.stream(self.engine_request(call)):
                yield delta

    def stats(self) -> dict[str, int]:
        """Counters of this replica: requests, completed, failed, cancelled, active."""
        return {**self.counters, "active": self.active}

    def model_name(self) -> str:
        """The model this tier serves."""
        return self.engine.model

    def _counted(self) -> _Count:
        return _Count(self)

    async def __del__(self) -> None:  # pragma: no cover - called by Ray on replica shutdown
        await self.engine.close()


class _Count:
    """Counts one request's outcome (generator-safe, unlike a try/finally around ``yield``)."""

    def __init__(self, server: TierServer) -> None:
        self.server = server

    def __enter__(self) -> None:
        self.server.counters["requests"] += 1
        self.server.active += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        self.server.active -= 1
        if kind is None or kind is GeneratorExit:
            self.server.counters["completed" if kind is None else "cancelled"] += 1
        elif issubclass(kind, BaseException) and kind.__name__ in {"CancelledError", "TaskCancelledError"}:
            self.server.counters["cancelled"] += 1
        else:
            self.server.counters["failed"] += 1


def _portable(error: BaseException) -> Exception:
    """``error`` if it survives pickling back to the router, else a RuntimeError that names it."""
    if isinstance(error, Exception):
        try:
            pickle.loads(pickle.dumps(error))
            return error
        except Exception:
            pass
    return RuntimeError(f"{type(error).__name__}: {error}")
