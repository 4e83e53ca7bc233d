"""Supervision: restart a long-running task that dies, with exponential backoff."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from loreweave.actors.runtime.telemetry import Tally

logger = logging.getLogger(__name__)


class Supervisor:
    """Keeps named tasks running: a task that raises is restarted after a growing delay.

    The delay doubles from ``initial_backoff`` up to ``max_backoff`` and resets once a
    task has run for ``stable_after`` seconds. A task that returns normally is done.
    """

    def __init__(
        self,
        restarts: Tally | None = None,
        initial_backoff: float = 0.1,
        max_backoff: float = 10.0,
        stable_after: float = 30.0,
    ) -> None:
        self._restarts = restarts
        self._initial = initial_backoff
        self._max = max_backoff
        self._stable_after = stable_after
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.restart_counts: dict[str, int] = {}

    def start(self, name: str, factory: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run ``factory()`` under supervision as task ``name``."""
        task = asyncio.create_task(self._keep_running(name, factory), name=name)
        self._tasks[name] = task
        return task

    async def _keep_running(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        backoff = self._initial
        while True:
            started = time.monotonic()
            try:
                await factory()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if time.monotonic() - started >= self._stable_after:
                    backoff = self._initial
                self.restart_counts[name] = self.restart_counts.get(name, 0) + 1
                if self._restarts is not None:
                    self._restarts.add(1, {"lw.task": name})
                logger.exception("task %s died; restarting in %.2fs", name, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max)

    async def stop(self) -> None:
        """Cancel every supervised task and wait for them to end."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
