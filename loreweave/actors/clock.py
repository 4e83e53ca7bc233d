"""The clock (time-manager): game time per world at a configurable speed.

Each world advances in whole ticks of ``tick_minutes`` game minutes, so the sequence of
game times is the same on every run; only how fast ticks come in real time depends on the
speed (game minutes per real second, from ``world.opened`` or ``settings.changed``).

Consumes: ``world.opened``, ``world.closed``, ``settings.changed``; answers ``clock.get_time``.
Emits: ``clock.tick`` every tick, and, caused by that tick, ``clock.dawn``, ``clock.dusk``,
``clock.day`` and ``clock.season`` when the tick crosses one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, every, on, reply
from loreweave.protocol import ConfigError, LoreweaveError
from loreweave.schemas import (
    SEASONS,
    ClockDawn,
    ClockDay,
    ClockDusk,
    ClockGetTime,
    ClockSeason,
    ClockTick,
    ClockTime,
    Event,
    Season,
    SettingsChanged,
    WorldClosed,
    WorldOpened,
)

MINUTES_PER_DAY = 24 * 60
#: Sunrise and sunset hour of each season.
DAYLIGHT: dict[Season, tuple[int, int]] = {
    "spring": (6, 19), "summer": (5, 21), "autumn": (7, 18), "winter": (8, 17),
}


@dataclass(frozen=True)
class GameTime:
    """A game time broken into calendar parts."""

    game_minutes: int
    day: int
    hour: int
    minute: int
    season: Season

    @property
    def daylight(self) -> bool:
        """Whether the sun is up."""
        dawn, dusk = DAYLIGHT[self.season]
        return dawn <= self.hour < dusk


def calendar(game_minutes: int, days_per_season: int) -> GameTime:
    """Split minutes since the world began into day, hour, minute and season."""
    day, minute_of_day = divmod(game_minutes, MINUTES_PER_DAY)
    season = SEASONS[(day // days_per_season) % len(SEASONS)]
    return GameTime(game_minutes, day, minute_of_day // 60, minute_of_day % 60, season)


class WorldClock(BaseModel):
    """One world's time."""

    tick: int = 0
    game_minutes: int = 0
    speed: float = Field(gt=0)
    credit: float = Field(default=0.0, description="Game minutes owed but not yet ticked.")


class ClockState(BaseModel):
    """Every world's time."""

    worlds: dict[str, WorldClock] = Field(default_factory=dict)


class Clock(GameActor[ClockState]):
    """Runs game time for every open world.

    Args:
        speed: default game minutes per real second (``1.0``: a game day in 24 real minutes).
        tick_minutes: game minutes per tick.
        days_per_season: game days in a season.
        resolution_s: how often (real seconds) the clock checks whether ticks are due.
        worlds: worlds to run from the start, without waiting for ``world.opened``.
        start_hour: the hour a world's first day starts at.
    """

    name = "clock"

    def __init__(
        self,
        *,
        seed: int = 0,
        speed: float = 2.0,
        tick_minutes: int = 10,
        days_per_season: int = 7,
        resolution_s: float = 0.1,
        worlds: Iterable[str] = (),
        start_hour: int = 8,
        heartbeat_s: float = 5.0,
    ) -> None:
        super().__init__(ClockState(), seed=seed, heartbeat_s=heartbeat_s)
        if speed <= 0:
            raise ConfigError("clock.speed", f"must be > 0, got {speed}")
        if not 1 <= tick_minutes <= 360:
            raise ConfigError("clock.tick_minutes", f"must be within [1, 360], got {tick_minutes}")
        if days_per_season < 1:
            raise ConfigError("clock.days_per_season", f"must be >= 1, got {days_per_season}")
        self.speed = speed
        self.tick_minutes = tick_minutes
        self.days_per_season = days_per_season
        self.start_hour = start_hour
        self.set_interval("step", resolution_s)
        for world in worlds:
            self.open(world)
        self._last_step = time.monotonic()

    async def on_start(self) -> None:
        """Count real time from now, not from construction."""
        self._last_step = time.monotonic()

    async def on_activate(self) -> None:
        """Taken over from another node: game time resumes from the restored state, now."""
        self._last_step = time.monotonic()

    def open(self, world: str, speed: float | None = None, start_hour: int | None = None) -> WorldClock:
        """Start a world's clock (or change its speed if it runs already)."""
        clock = self.state.worlds.get(world)
        if clock is None:
            hour = self.start_hour if start_hour is None else start_hour
            clock = self.state.worlds[world] = WorldClock(game_minutes=hour * 60, speed=speed or self.speed)
        elif speed is not None:
            clock.speed = speed
        return clock

    @on("lw.*.world.opened")
    async def world_opened(self, event: WorldOpened, ctx: Context) -> None:
        """Start the world's clock at its start hour."""
        self.open(ctx.frame.world, event.clock_speed, event.start_hour)

    @on("lw.*.world.closed")
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Stop the world's clock."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @on("lw.*.settings.changed")
    async def settings_changed(self, event: SettingsChanged, ctx: Context) -> None:
        """Follow a change of ``clock_speed`` (unset: back to the default)."""
        clock = self.state.worlds.get(ctx.frame.world)
        if clock is not None and "clock_speed" in event.changes:
            clock.speed = event.settings.clock_speed or self.speed

    @reply("lw.rpc.*.clock.get_time")
    async def get_time(self, event: ClockGetTime, ctx: Context) -> ClockTime:
        """The world's current game time."""
        clock = self.state.worlds.get(ctx.frame.world)
        if clock is None:
            raise LoreweaveError("world", f"no clock runs in world {ctx.frame.world!r} (no world.opened seen)")
        now = calendar(clock.game_minutes, self.days_per_season)
        return ClockTime(
            tick=clock.tick, game_minutes=now.game_minutes, day=now.day, hour=now.hour, minute=now.minute,
            season=now.season, daylight=now.daylight, speed=clock.speed,
        )

    @every(0.1)
    async def step(self) -> None:
        """Emit the ticks that came due since the last step, in every world."""
        now = time.monotonic()
        elapsed, self._last_step = now - self._last_step, now
        for world, clock in list(self.state.worlds.items()):
            clock.credit += elapsed * clock.speed
            due = int(clock.credit // self.tick_minutes)
            if due > 20:  # after a stall, skip ahead rather than burst hundreds of ticks
                due, clock.credit = 20, 0.0
            else:
                clock.credit -= due * self.tick_minutes
            for _ in range(due):
                await self._tick(world, clock)

    async def _tick(self, world: str, clock: WorldClock) -> None:
        before = calendar(clock.game_minutes, self.days_per_season)
        clock.tick += 1
        clock.game_minutes += self.tick_minutes
        now = calendar(clock.game_minutes, self.days_per_season)
        frame = await self.publish(
            ClockTick(
                tick=clock.tick, game_minutes=now.game_minutes, day=now.day, hour=now.hour, minute=now.minute,
                season=now.season, daylight=now.daylight,
            ),
            world,
        )
        marks: list[Event] = []
        for day in range(before.day, now.day + 1):
            season = calendar(day * MINUTES_PER_DAY, self.days_per_season).season
            if day > before.day:
                marks.append(ClockDay(day=day, season=season, game_minutes=day * MINUTES_PER_DAY))
                previous = calendar((day - 1) * MINUTES_PER_DAY, self.days_per_season).season
                if season != previous:
                    marks.append(ClockSeason(day=day, season=season, previous=previous,
                                             game_minutes=day * MINUTES_PER_DAY))
            dawn, dusk = DAYLIGHT[season]
            for hour, mark in ((dawn, ClockDawn), (dusk, ClockDusk)):
                at = day * MINUTES_PER_DAY + hour * 60
                if before.game_minutes < at <= now.game_minutes:
                    marks.append(mark(day=day, season=season, game_minutes=at))
        for index, mark_event in enumerate(marks):
            await self.bus.publish(
                frame.caused(mark_event.TYPE, mark_event, source=self.name, index=index, version=mark_event.VERSION)
            )
