"""Waiting for a condition with a deadline, instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class ConditionNotMet(AssertionError):
    """:func:`eventually` gave up: the condition was still false at its deadline."""


async def eventually(
    predicate: Callable[[], T | Awaitable[T]],
    timeout: float = 5.0,
    *,
    interval: float = 0.02,
    message: str | None = None,
) -> T:
    """Wait until ``predicate()`` (sync or async) returns something true, and return it.

    The predicate is called at once, then every ``interval`` seconds until ``timeout``.

    Raises:
        ConditionNotMet: (an ``AssertionError``, so a test fails with it) naming ``message``
            (default: the predicate) and the last value it returned.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if loop.time() > deadline:
            what = message or getattr(predicate, "__qualname__", repr(predicate))
            raise ConditionNotMet(f"condition not met within {timeout}s: {what} (last value {result!r})")
        await asyncio.sleep(interval)
