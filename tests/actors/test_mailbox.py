import asyncio
import random

import pytest

from loreweave.actors.runtime import KeyedMailbox


async def test_items_of_one_key_run_one_at_a_time_in_order() -> None:
    seen: dict[str, list[int]] = {"a": [], "b": []}
    running: dict[str, int] = {"a": 0, "b": 0}
    overlaps = 0

    async def handle(item: tuple[str, int]) -> None:
        nonlocal overlaps
        key, number = item
        running[key] += 1
        overlaps += running[key] > 1
        await asyncio.sleep(random.random() / 1000)
        seen[key].append(number)
        running[key] -= 1

    mailbox: KeyedMailbox[tuple[str, int]] = KeyedMailbox(handle, capacity=16)
    for number in range(200):
        key = random.choice("ab")
        await mailbox.put(key, (key, number))
    assert await mailbox.join(5)
    assert overlaps == 0
    for numbers in seen.values():
        assert numbers == sorted(numbers)
    assert len(seen["a"]) + len(seen["b"]) == 200


async def test_different_keys_run_concurrently() -> None:
    release = asyncio.Event()
    started: list[str] = []

    async def handle(key: str) -> None:
        started.append(key)
        if key == "slow":
            await release.wait()
        else:
            release.set()

    mailbox: KeyedMailbox[str] = KeyedMailbox(handle, capacity=4)
    await mailbox.put("slow", "slow")
    await mailbox.put("fast", "fast")
    assert await mailbox.join(2), "the slow key blocked the fast one"


async def test_put_waits_when_full_and_memory_stays_bounded() -> None:
    gate = asyncio.Event()
    peak = 0

    async def handle(_: int) -> None:
        nonlocal peak
        peak = max(peak, mailbox.held)
        await gate.wait()

    mailbox: KeyedMailbox[int] = KeyedMailbox(handle, capacity=3)
    for number in range(3):
        await mailbox.put(number, number)
    blocked = asyncio.create_task(mailbox.put(99, 99))
    await asyncio.sleep(0.05)
    assert not blocked.done(), "put did not wait for room"
    assert mailbox.held == 3 and mailbox.free == 0
    gate.set()
    await asyncio.wait_for(blocked, 1)
    assert await mailbox.join(1)
    assert peak <= 3


async def test_a_raising_handler_does_not_lose_the_keys_queue() -> None:
    handled: list[int] = []

    async def handle(number: int) -> None:
        if number == 1:
            raise RuntimeError("boom")
        handled.append(number)

    mailbox: KeyedMailbox[int] = KeyedMailbox(handle, capacity=8)
    for number in range(4):
        await mailbox.put("k", number)
    assert await mailbox.join(1)
    assert handled == [0, 2, 3]
    assert mailbox.held == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        KeyedMailbox(lambda item: None, capacity=0)  # type: ignore[arg-type, return-value]
