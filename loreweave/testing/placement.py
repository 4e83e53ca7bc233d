"""What placement tests and benchmarks ask of a running cluster: who owns a world, what a world
answers, how its clock ticks."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from loreweave.actors.runtime import Bus, RequestError, frame_for
from loreweave.actors.runtime.placement import DEFAULT_LEASE_BUCKET, DEFAULT_PARTITIONS, lease_key, partition_of
from loreweave.schemas import ClockGetTime, WorldQuery
from loreweave.testing.waiting import ConditionNotMet

T = TypeVar("T")

#: The log line of a node joining the placement, with its id.
JOINED = re.compile(r"placement: (\S+) joined")


def spread_worlds(prefix: str, count: int, partitions: int = DEFAULT_PARTITIONS) -> list[str]:
    """``count`` world ids starting with ``prefix``, each in a partition of its own."""
    worlds: list[str] = []
    taken: set[int] = set()
    index = 0
    while len(worlds) < count:
        name = f"{prefix}{index}"
        index += 1
        if partition_of(name, partitions) not in taken:
            taken.add(partition_of(name, partitions))
            worlds.append(name)
    return worlds


def node_id_in_log(log_path: Path) -> str | None:
    """The placement id a node logged when it joined (its lease owner id), or None."""
    for line in log_path.read_text().splitlines():
        found = JOINED.search(line)
        if found:
            return found.group(1)
    return None


async def lease_owners(bus: Bus, partitions: int = DEFAULT_PARTITIONS, bucket: str = DEFAULT_LEASE_BUCKET) -> dict[int, str]:
    """Partition -> the node id holding its lease, as the bucket says now."""
    kv = await bus.js.key_value(bucket)
    owners: dict[int, str] = {}
    for partition in range(partitions):
        try:
            entry = await kv.get(lease_key(partition))
        except Exception:  # no such key: nobody holds it
            continue
        if entry.value:
            owners[partition] = json.loads(entry.value)["node"]
    return owners


async def flag_values(bus: Bus, world: str, count: int, timeout: float = 3.0) -> list[Any]:
    """The values of flags ``f0`` ... ``f<count-1>`` of ``world`` (None where unset)."""
    values = []
    for index in range(count):
        reply = await bus.request(frame_for(WorldQuery(kind="flag", id=f"f{index}"), world, "test"), timeout)
        values.append(reply.payload.value if reply.payload.found else None)
    return values


async def flags_answered(bus: Bus, world: str, count: int) -> bool:
    """Whether ``world`` answers flags ``f<i>`` = i for every i below ``count``."""
    try:
        return await flag_values(bus, world, count) == list(range(count))
    except RequestError:
        return False


async def clock_answers(bus: Bus, world: str, timeout: float = 1.0) -> bool:
    """Whether some node runs ``world``'s clock now: it answers (a refusal, before the world opens,
    is an answer too); no responder, no answer in time or ``unavailable`` (a move) is not."""
    try:
        await bus.request(frame_for(ClockGetTime(), world, "test"), timeout)
    except RequestError as exc:
        return exc.code not in ("timeout", "no_responders", "unavailable")
    return True


async def clock_ticks(bus: Bus, world: str, count: int = 3, timeout: float = 40.0) -> list[int]:
    """The next ``count`` clock ticks of ``world`` as they arrive (two clocks would repeat numbers)."""
    seen: list[int] = []
    done = asyncio.Event()

    async def take(msg: Any) -> None:
        seen.append(bus.decode(msg.data, msg.subject).payload.tick)
        if len(seen) >= count:
            done.set()

    sub = await bus.nc.subscribe(f"lw.{world}.clock.tick", cb=take)
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        await sub.unsubscribe()
    return seen


async def settled(read: Callable[[], Awaitable[T | None]], quiet_s: float = 2.0, timeout: float = 30.0) -> T:
    """What ``read()`` returns once it is not None and has not changed for ``quiet_s`` seconds
    (a placement still evening out the worlds moves a few after they appear).

    Raises:
        ConditionNotMet: it did not settle within ``timeout``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: T | None = None
    since = loop.time()
    while loop.time() < deadline:
        now = await read()
        if now != last:
            last, since = now, loop.time()
        elif now is not None and loop.time() - since >= quiet_s:
            return now
        await asyncio.sleep(0.2)
    raise ConditionNotMet(f"did not settle within {timeout:g}s (last: {last!r})")
