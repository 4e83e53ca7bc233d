"""Weather (weather-manager): each region's weather as a seasonal Markov chain, driven by the clock.

Once per game hour every region draws its next condition from the season's transition
table, reweighted by its biome; only changes are emitted.

Consumes: ``world.opened`` (regions and biomes), ``clock.tick``, ``world.closed``;
answers ``weather.get_report``. Emits: ``weather.changed`` (caused by the tick).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import LoreweaveError
from loreweave.schemas import (
    ClockTick,
    Season,
    WeatherChanged,
    WeatherGetReport,
    WeatherReport,
    WorldClosed,
    WorldOpened,
)
from loreweave.schemas.weather import Condition

Table = Mapping[Condition, Mapping[Condition, float]]

_TEMPERATE: Table = {
    "clear": {"clear": 0.75, "cloudy": 0.2, "fog": 0.05},
    "cloudy": {"clear": 0.3, "cloudy": 0.45, "rain": 0.2, "fog": 0.05},
    "rain": {"cloudy": 0.35, "rain": 0.5, "storm": 0.1, "clear": 0.05},
    "storm": {"rain": 0.6, "storm": 0.3, "cloudy": 0.1},
    "fog": {"fog": 0.5, "clear": 0.3, "cloudy": 0.2},
    "snow": {"snow": 0.3, "cloudy": 0.5, "clear": 0.2},
}
#: Transition probabilities per season: current condition -> next condition -> weight.
TRANSITIONS: dict[Season, Table] = {
    "spring": _TEMPERATE,
    "summer": {
        "clear": {"clear": 0.85, "cloudy": 0.15},
        "cloudy": {"clear": 0.45, "cloudy": 0.35, "rain": 0.1, "storm": 0.1},
        "rain": {"cloudy": 0.4, "rain": 0.3, "storm": 0.15, "clear": 0.15},
        "storm": {"rain": 0.5, "storm": 0.2, "clear": 0.3},
        "fog": {"clear": 0.7, "fog": 0.3},
        "snow": {"clear": 1.0},
    },
    "autumn": {
        "clear": {"clear": 0.55, "cloudy": 0.3, "fog": 0.15},
        "cloudy": {"clear": 0.2, "cloudy": 0.4, "rain": 0.3, "fog": 0.1},
        "rain": {"cloudy": 0.3, "rain": 0.5, "storm": 0.2},
        "storm": {"rain": 0.6, "storm": 0.3, "cloudy": 0.1},
        "fog": {"fog": 0.55, "cloudy": 0.3, "clear": 0.15},
        "snow": {"cloudy": 0.6, "rain": 0.4},
    },
    "winter": {
        "clear": {"clear": 0.6, "cloudy": 0.3, "fog": 0.1},
        "cloudy": {"clear": 0.2, "cloudy": 0.4, "snow": 0.3, "rain": 0.1},
        "rain": {"cloudy": 0.4, "rain": 0.3, "snow": 0.3},
        "storm": {"snow": 0.5, "storm": 0.3, "cloudy": 0.2},
        "fog": {"fog": 0.5, "cloudy": 0.3, "clear": 0.2},
        "snow": {"snow": 0.55, "cloudy": 0.3, "storm": 0.15},
    },
}
#: Biome weights multiplied into the next condition's probability (1.0 if absent).
BIOME_BIAS: dict[str, dict[Condition, float]] = {
    "mountain": {"snow": 2.5, "storm": 1.5, "fog": 0.5},
    "coast": {"fog": 2.0, "storm": 1.8},
    "swamp": {"fog": 2.5, "rain": 1.5, "snow": 0.5},
    "city": {"fog": 1.3},
    "downs": {"clear": 1.3},
}


class RegionWeather(BaseModel):
    """A region's current weather."""

    biome: str = "plains"
    condition: Condition = "clear"
    intensity: float = 0.3


class WorldWeather(BaseModel):
    """One world's weather."""

    season: Season = "spring"
    last_hour: int = -1
    regions: dict[str, RegionWeather] = Field(default_factory=dict)


class WeatherState(BaseModel):
    """Every world's weather."""

    worlds: dict[str, WorldWeather] = Field(default_factory=dict)


class Weather(GameActor[WeatherState]):
    """Weather per region; emits ``weather.changed`` only when a region's condition changes."""

    name = "weather"

    def __init__(self, *, seed: int = 0, heartbeat_s: float = 5.0) -> None:
        super().__init__(WeatherState(), seed=seed, heartbeat_s=heartbeat_s)

    @on("lw.*.world.opened")
    async def world_opened(self, event: WorldOpened, ctx: Context) -> None:
        """Learn the world's regions; every region starts clear."""
        weather = self.state.worlds.setdefault(ctx.frame.world, WorldWeather())
        for region in event.regions:
            weather.regions.setdefault(region.id, RegionWeather(biome=region.biome))

    @on("lw.*.world.closed")
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @on("lw.*.clock.tick")
    async def tick(self, event: ClockTick, ctx: Context) -> None:
        """On each new game hour, step every region's chain and emit the changes."""
        weather = self.state.worlds.get(ctx.frame.world)
        hour = event.game_minutes // 60
        if weather is None or hour == weather.last_hour:
            return
        weather.last_hour = hour
        weather.season = event.season
        for region_id in sorted(weather.regions):
            region = weather.regions[region_id]
            rng = self.rng(ctx.frame.world, region_id)
            following = self.next_condition(region.condition, event.season, region.biome, rng.random())
            if following == region.condition:
                continue
            previous, region.condition = region.condition, following
            region.intensity = round(rng.uniform(0.2, 1.0), 2)
            await ctx.emit(
                WeatherChanged(
                    region=region_id, condition=following, previous=previous, season=event.season,
                    intensity=region.intensity,
                )
            )

    @staticmethod
    def next_condition(current: Condition, season: Season, biome: str, draw: float) -> Condition:
        """The condition that follows ``current`` for a uniform ``draw`` in [0, 1)."""
        bias = BIOME_BIAS.get(biome, {})
        weights = [(cond, p * bias.get(cond, 1.0)) for cond, p in TRANSITIONS[season][current].items()]
        total = sum(weight for _, weight in weights)
        point = draw * total
        for condition, weight in weights:
            point -= weight
            if point < 0:
                return condition
        return weights[-1][0]

    @reply("lw.rpc.*.weather.get_report")
    async def get_report(self, event: WeatherGetReport, ctx: Context) -> WeatherReport:
        """Every region's current condition."""
        weather = self.state.worlds.get(ctx.frame.world)
        if weather is None:
            raise LoreweaveError("world", f"no weather in world {ctx.frame.world!r} (no world.opened seen)")
        return WeatherReport(
            season=weather.season,
            regions={region_id: region.condition for region_id, region in sorted(weather.regions.items())},
        )
