"""The clock: ticks at the configured speed, dawn/dusk/day/season marks, speed changes, time requests."""

from __future__ import annotations

import asyncio
import time

import pytest

from loreweave.actors.clock import Clock, calendar
from loreweave.actors.runtime import RequestError
from loreweave.schemas import (
    ClockDawn,
    ClockDay,
    ClockDusk,
    ClockGetTime,
    ClockSeason,
    ClockTick,
    SettingsChanged,
    WorldSettings,
)

from .conftest import ask, eventually, small_map


def test_calendar_splits_minutes_into_day_hour_and_season() -> None:
    assert calendar(0, 2).season == "spring"
    moment = calendar(3 * 1440 + 13 * 60 + 5, 2)
    assert (moment.day, moment.hour, moment.minute, moment.season) == (3, 13, 5, "summer")
    assert calendar(8 * 1440, 2).season == "spring"  # a year is 4 seasons of 2 days
    assert not calendar(2 * 60, 7).daylight and calendar(12 * 60, 7).daylight


async def test_ticks_follow_game_time_and_mark_dawn_dusk_days_and_seasons(bus, start_node, world, frames) -> None:
    # 1440 game minutes per real second: a game day per second, a season per day.
    await start_node(Clock(speed=1440, tick_minutes=30, days_per_season=1, resolution_s=0.02))
    await bus.emit(small_map(), world, source="test")
    await eventually(lambda: len(frames.of(ClockSeason)) >= 2, timeout=8)
    ticks = frames.of(ClockTick)
    minutes = [tick.game_minutes for tick in ticks]
    assert minutes == list(range(8 * 60 + 30, 8 * 60 + 30 * (len(ticks) + 1), 30))  # no gap, no repeat
    assert [tick.tick for tick in ticks] == list(range(1, len(ticks) + 1))
    days = frames.of(ClockDay)
    assert [day.day for day in days][:2] == [1, 2]
    assert [(s.previous, s.season) for s in frames.of(ClockSeason)][:2] == [("spring", "summer"), ("summer", "autumn")]
    # spring dusk is 19:00, summer dawn 05:00
    assert frames.of(ClockDusk)[0].game_minutes == 19 * 60
    assert frames.of(ClockDawn)[0].game_minutes == 1440 + 5 * 60
    # marks are caused by the tick that crossed them
    tick_ids = {frame.id for frame in frames.frames_of(ClockTick)}
    for frame in frames.frames_of(ClockDawn) + frames.frames_of(ClockDay):
        assert frame.causation_id in tick_ids


async def test_speed_comes_from_the_world_and_from_settings(bus, start_node, world, frames) -> None:
    await start_node(Clock(speed=1, tick_minutes=10, resolution_s=0.02))
    await bus.emit(small_map(clock_speed=600), world, source="test")  # 60 ticks a second
    started = time.monotonic()
    await eventually(lambda: len(frames.of(ClockTick)) >= 30)
    assert time.monotonic() - started < 1.5
    now = await ask(bus, world, ClockGetTime())
    assert now.speed == 600 and now.game_minutes >= 8 * 60 + 300
    await bus.emit(
        SettingsChanged(version=1, changes={"clock_speed": 0.001}, settings=WorldSettings(clock_speed=0.001)),
        world, source="test",
    )
    await eventually(lambda: _speed_is(bus, world, 0.001))
    count = len(frames.of(ClockTick))
    await asyncio.sleep(0.3)
    assert len(frames.of(ClockTick)) <= count + 1  # effectively stopped


async def _speed_is(bus, world, speed) -> bool:
    return (await ask(bus, world, ClockGetTime())).speed == speed


async def test_time_of_an_unknown_world_is_a_clear_error(bus, start_node, world) -> None:
    await start_node(Clock())
    with pytest.raises(RequestError) as error:
        await ask(bus, world, ClockGetTime())
    assert error.value.code == "bad_request" and "no world.opened" in error.value.message
