"""Tier calls made together travel together (one Serve call), each answered and stopped on its own."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from loreweave.serve.batching import CallBatcher
from loreweave.serve.messages import TierCall
from loreweave.serve.tier_server import TierServer


class Remote:
    """A fake remote side: records what was sent in each call; ``hold`` keeps sends waiting."""

    def __init__(self) -> None:
        self.sent: list[list[int]] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.cancelled = 0

    async def one(self, item: int) -> str:
        return (await self.many([item]))[0]  # type: ignore[return-value]

    async def many(self, items: list[int]) -> list[str | Exception]:
        self.sent.append(list(items))
        try:
            await self.hold.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return [ValueError(f"bad {item}") if item < 0 else f"answer {item}" for item in items]


async def test_calls_made_together_are_sent_in_one_go_and_answered_in_order() -> None:
    remote = Remote()
    batcher: CallBatcher[int, str] = CallBatcher(remote.one, remote.many, max_batch=32)
    answers = await asyncio.gather(*(batcher.call(i) for i in range(10)))
    assert answers == [f"answer {i}" for i in range(10)]
    assert remote.sent == [list(range(10))]
    assert batcher.stats()["mean_batch"] == 10


async def test_a_lone_call_is_sent_alone_and_a_batch_is_cut_at_max_batch() -> None:
    remote = Remote()
    batcher: CallBatcher[int, str] = CallBatcher(remote.one, remote.many, max_batch=4)
    assert await batcher.call(7) == "answer 7"
    await asyncio.gather(*(batcher.call(i) for i in range(10)))
    assert [len(sent) for sent in remote.sent] == [1, 4, 4, 2]


async def test_one_failed_call_fails_only_its_caller() -> None:
    remote = Remote()
    batcher: CallBatcher[int, str] = CallBatcher(remote.one, remote.many)
    outcomes = await asyncio.gather(batcher.call(1), batcher.call(-2), batcher.call(3), return_exceptions=True)
    assert outcomes[0] == "answer 1" and outcomes[2] == "answer 3"
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "bad -2"


async def test_the_remote_work_stops_only_when_every_caller_in_the_batch_gave_up() -> None:
    remote = Remote()
    remote.hold.clear()
    batcher: CallBatcher[int, str] = CallBatcher(remote.one, remote.many)
    first, second = (asyncio.ensure_future(batcher.call(i)) for i in (1, 2))
    while not remote.sent:
        await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0.01)
    assert remote.cancelled == 0 and not second.done()
    second.cancel()
    deadline = time.monotonic() + 5
    while remote.cancelled == 0:
        assert time.monotonic() < deadline, "the send was not cancelled"
        await asyncio.sleep(0.005)


async def test_max_batch_of_one_sends_every_call_alone() -> None:
    remote = Remote()
    batcher: CallBatcher[int, str] = CallBatcher(remote.one, remote.many, max_batch=1)
    await asyncio.gather(*(batcher.call(i) for i in range(3)))
    assert sorted(remote.sent) == [[0], [1], [2]]
    with pytest.raises(ValueError, match="max_batch"):
        CallBatcher(remote.one, remote.many, max_batch=0)


async def _tier(**tier: Any) -> TierServer:
    server = TierServer.__new__(TierServer)
    await server.__init__({"name": "gold", **tier})  # type: ignore[misc]  # Serve awaits it the same way
    return server


def call(request_id: str, deadline_s: float | None = 5.0, **fields: Any) -> TierCall:
    deadline = None if deadline_s is None else time.time() + deadline_s
    return TierCall(request_id, "dialogue", "hello", {"player": "Ana"}, deadline=deadline, **fields)


async def test_a_tier_answers_a_batch_in_order_each_as_it_would_alone() -> None:
    server = await _tier()
    outcomes = await server.generate_batch(
        [call("a"), call("b", json_schema={"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}),
         call("c", deadline_s=None)]
    )
    alone = await server.generate(call("a"))
    assert outcomes[0].text == alone.text and outcomes[1].data == {"n": 3} and outcomes[2].text  # type: ignore[union-attr]
    assert server.stats()["completed"] == 4 and server.stats()["batches"] == 1
    await server.__del__()


async def test_a_failed_call_comes_back_as_its_error_in_its_place() -> None:
    server = await _tier(engine="tests.serve.fault_engines:BrokenEngine")
    outcomes = await server.generate_batch([call("a"), call("b")])
    assert [str(outcome) for outcome in outcomes] == ["model server crashed"] * 2
    assert all(isinstance(outcome, RuntimeError) for outcome in outcomes)
    assert server.stats()["failed"] == 2
    await server.__del__()


async def test_a_call_in_a_batch_is_stopped_at_its_deadline() -> None:
    server = await _tier(engine_args={"first_token_delay_ms": 2000})
    started = time.perf_counter()
    outcomes = await server.generate_batch([call("late", deadline_s=0.1)])
    assert time.perf_counter() - started < 1.5
    assert isinstance(outcomes[0], TimeoutError)
    assert server.stats()["cancelled"] == 1 and server.stats()["active"] == 0
    await server.__del__()
