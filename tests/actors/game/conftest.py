"""Helpers of the game-actor tests: record a world's frames, ask requests, a small map."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

import pytest

from loreweave.actors.runtime import Bus, frame_for
from loreweave.protocol import Frame
from loreweave.schemas import Event, RegionSpec, WorldOpened
from tests.actors.conftest import eventually  # noqa: F401  (shared with the game tests)

E = TypeVar("E", bound=Event)


class Recorder:
    """Every frame published in a world, decoded, in arrival order."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def of(self, event_type: type[E]) -> list[E]:
        """Payloads of one event type."""
        return [frame.payload for frame in self.frames if isinstance(frame.payload, event_type)]

    def frames_of(self, event_type: type[Event]) -> list[Frame]:
        """Frames of one event type."""
        return [frame for frame in self.frames if isinstance(frame.payload, event_type)]


async def record(bus: Bus, subject: str) -> Recorder:
    """Start recording frames on ``subject``."""
    recorder = Recorder()

    async def keep(msg: Any) -> None:
        recorder.frames.append(bus.decode(msg.data))

    await bus.nc.subscribe(subject, cb=keep)
    await bus.nc.flush()
    return recorder


@pytest.fixture
async def frames(bus: Bus, world: str) -> Recorder:
    """A recorder of every event of the test's world."""
    return await record(bus, f"lw.{world}.*.*")


async def ask(bus: Bus, world: str, request: Event, timeout: float = 3.0) -> Any:
    """Send a request in ``world`` and return the reply's payload."""
    reply = await bus.request(frame_for(request, world, "test"), timeout)
    return reply.payload




def small_map(clock_speed: float | None = None) -> WorldOpened:
    """Four regions on a line: a village, a forest, a mountain and a coast."""
    return WorldOpened(
        title="Test Reach",
        regions=[
            RegionSpec(id="ford", name="Fennick's Ford", biome="plains", neighbours=["mire"], faction="council"),
            RegionSpec(id="mire", name="The Mirewood", biome="swamp", neighbours=["ford", "peaks"]),
            RegionSpec(id="peaks", name="The Ashpeaks", biome="mountain", neighbours=["mire", "coast"],
                       faction="covenant"),
            RegionSpec(id="coast", name="The Brine Coast", biome="coast", neighbours=["peaks"]),
        ],
        factions=["council", "covenant"],
        clock_speed=clock_speed,
    )


async def settle(recorder: Recorder, quiet_s: float = 0.3, timeout: float = 10.0) -> None:
    """Wait until no new frame arrived for ``quiet_s`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    count, since = len(recorder.frames), loop.time()
    while loop.time() - since < quiet_s:
        if loop.time() > deadline:
            raise AssertionError(f"frames kept coming for {timeout}s")
        await asyncio.sleep(0.05)
        if len(recorder.frames) != count:
            count, since = len(recorder.frames), loop.time()
