"""Calls made in the same event-loop turn, sent together: one remote call instead of many.

Each Serve handle call costs about a millisecond of CPU on either side, which is more than a
scripted answer; a router answering many requests at once pays it once per turn of its
event loop. A lone call is sent alone (and is cancelled in the replica when its caller
gives up); a call in a batch is stopped at its deadline, and the batch is cancelled when
every caller in it gave up.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Awaitable, Callable, Generic, Sequence, TypeVar

C = TypeVar("C")
R = TypeVar("R")


class CallBatcher(Generic[C, R]):
    """Gathers the calls made in one loop turn (up to ``max_batch``) and sends them as one.

    ``send_one`` sends a lone call; ``send_many`` sends several and returns, in order, each
    call's result or the exception it failed with.
    """

    def __init__(
        self,
        send_one: Callable[[C], Awaitable[R]],
        send_many: Callable[[list[C]], Awaitable[Sequence[R | Exception]]],
        max_batch: int = 32,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.send_one = send_one
        self.send_many = send_many
        self.max_batch = max_batch
        self.counters: Counter[str] = Counter()
        self._pending: list[tuple[C, asyncio.Future[R]]] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, item: C) -> R:
        """Send ``item`` with whatever else is called in this turn; its result or its error."""
        if self.max_batch == 1:
            self.counters["calls"] += 1
            self.counters["sends"] += 1
            return await self.send_one(item)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        return await future

    def stats(self) -> dict[str, float]:
        """Calls, sends (remote calls made) and the mean calls per send."""
        sends = self.counters["sends"]
        return {**self.counters, "mean_batch": self.counters["calls"] / sends if sends else 0.0}

    def _flush(self) -> None:
        self._scheduled = False
        batch = [(item, future) for item, future in self._pending if not future.done()]
        self._pending = []
        if not batch:
            return
        self.counters["calls"] += len(batch)
        self.counters["sends"] += 1
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        live = [len(batch)]

        def gone(future: asyncio.Future[R]) -> None:
            if future.cancelled():
                live[0] -= 1
                if live[0] == 0:  # nobody waits for any of it: stop the remote work
                    task.cancel()

        for _, future in batch:
            future.add_done_callback(gone)

    async def _send(self, batch: list[tuple[C, asyncio.Future[R]]]) -> None:
        outcomes: Sequence[R | Exception]
        try:
            if len(batch) == 1:
                outcomes = [await self.send_one(batch[0][0])]
            else:
                outcomes = await self.send_many([item for item, _ in batch])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcomes = [exc] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
