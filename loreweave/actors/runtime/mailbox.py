"""Keyed mailboxes: one at a time per key, in arrival order; different keys concurrently."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable, Generic, Hashable, TypeVar

T = TypeVar("T")
logger = logging.getLogger(__name__)


class KeyedMailbox(Generic[T]):
    """Runs ``handler`` on items so that items of one key never overlap and keep their order.

    At most ``capacity`` items are held (queued or running) across all keys;
    :meth:`put` waits for room when full, so a fast producer is slowed down
    instead of growing memory. A key's worker task exists only while the key
    has work, so idle keys cost nothing.
    """

    def __init__(self, handler: Callable[[T], Awaitable[None]], capacity: int = 1024) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._handler = handler
        self._capacity = capacity
        self._room = asyncio.Event()
        self._room.set()
        self._queues: dict[Hashable, deque[T]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._held = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    @property
    def held(self) -> int:
        """Items queued or being handled."""
        return self._held

    @property
    def capacity(self) -> int:
        """Most items held at once before :meth:`put` waits."""
        return self._capacity

    @property
    def free(self) -> int:
        """Items that can be put without waiting."""
        return self._capacity - self._held

    async def put(self, key: Hashable, item: T) -> bool:
        """Queue ``item`` behind earlier items of ``key``; wait while the mailbox is full.

        Returns False, dropping the item, once the mailbox was cancelled.
        """
        while self._held >= self._capacity and not self._closed:
            self._room.clear()
            await self._room.wait()
        if self._closed:
            return False
        self._enqueue(key, item)
        return True

    def put_nowait(self, key: Hashable, item: T) -> bool:
        """Queue ``item`` behind earlier items of ``key`` if there is room now; whether it was queued."""
        if self._held >= self._capacity or self._closed:
            return False
        self._enqueue(key, item)
        return True

    def _enqueue(self, key: Hashable, item: T) -> None:
        self._held += 1
        self._idle.clear()
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(item)
            return
        self._queues[key] = deque((item,))
        worker = asyncio.create_task(self._work(key), name=f"mailbox:{key}")
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _work(self, key: Hashable) -> None:
        queue = self._queues[key]
        try:
            while queue:
                item = queue[0]
                try:
                    await self._handler(item)
                except Exception:  # the handler owns error policy; never lose the key's queue
                    logger.exception("mailbox handler raised for key %r", key)
                finally:
                    queue.popleft()
                    self._held -= 1
                    self._room.set()
        finally:
            del self._queues[key]
            if self._held == 0:
                self._idle.set()

    async def join(self, timeout: float | None = None) -> bool:
        """Wait until every held item is handled; return False if ``timeout`` passed first."""
        if self._idle.is_set():
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def cancel(self) -> int:
        """Cancel running handlers, drop what is queued and refuse later puts (after a drain timed out).

        Returns how many items were dropped, running ones included.
        """
        dropped = self._held
        self._closed = True
        for worker in list(self._workers):
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._queues.clear()
        self._held = 0
        self._room.set()  # putters waiting for room return False
        self._idle.set()
        return dropped
