"""Ambience (environmental-narrative): short descriptions of places as weather, time and people change.

Written for the regions players are in: a weather change there, dawn and dusk there, and
a player's arrival (for that player).

Consumes: ``world.opened``/``closed``, ``weather.changed``, ``clock.tick``, ``clock.dawn``,
``clock.dusk``, ``player.*`` (joined, moved, left). Emits: ``narrative.ambience``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, on
from loreweave.schemas import (
    ClockDawn,
    ClockDusk,
    ClockTick,
    Event,
    NarrativeAmbience,
    PlayerJoined,
    PlayerLeft,
    PlayerMoved,
    WeatherChanged,
    WorldClosed,
    WorldOpened,
)

TIME: dict[str, tuple[str, ...]] = {
    "dawn": ("Dawn comes grey and slow to {place}", "First light touches {place}"),
    "day": ("The day wears on in {place}", "Midday in {place}", "{place} goes about its business"),
    "dusk": ("Dusk settles over {place}", "The light fails in {place}"),
    "night": ("Night holds {place}", "{place} sleeps under a hard sky"),
}
WEATHER: dict[str, tuple[str, ...]] = {
    "clear": ("The air is still and clear.", "Not a cloud to be seen."),
    "cloudy": ("Low clouds drag across the sky.", "The sky is the colour of old pewter."),
    "rain": ("Rain drums on every roof.", "A thin rain falls without end."),
    "storm": ("Thunder rolls and the wind tears at the shutters.", "Lightning splits the sky."),
    "fog": ("Fog swallows everything beyond arm's reach.", "Mist beads on every surface."),
    "snow": ("Snow falls in heavy silence.", "Drifts pile against the doors."),
}
BIOME: dict[str, tuple[str, ...]] = {
    "city": ("Bells ring somewhere across the water.", "Tar and eel-oil hang in the air."),
    "swamp": ("Black willows drip into the peat.", "Something moves in the reeds."),
    "mountain": ("The smell of sulphur rises from the fissures.", "Obsidian glints on the slopes."),
    "coast": ("Gulls wheel over the salt pans.", "The sea hisses against the rocks."),
    "downs": ("White trees stand in silent rows.", "Sheep bells sound on the chalk."),
    "plains": ("Carts rattle over the old stone crossing.", "The river runs brown and quick."),
}


def _by_world(frame: object) -> str:
    return frame.world  # type: ignore[attr-defined]


class AmbienceWorld(BaseModel):
    """What ambience knows of one world."""

    names: dict[str, str] = Field(default_factory=dict)
    biomes: dict[str, str] = Field(default_factory=dict)
    weather: dict[str, str] = Field(default_factory=dict)
    players: dict[str, str] = Field(default_factory=dict, description="Online player -> region.")
    daylight: bool = True


class AmbienceState(BaseModel):
    """Every world's surroundings."""

    worlds: dict[str, AmbienceWorld] = Field(default_factory=dict)


class Ambience(GameActor[AmbienceState]):
    """Describes occupied places when their weather, time of day or visitors change."""

    name = "ambience"

    def __init__(self, *, seed: int = 0, heartbeat_s: float = 5.0) -> None:
        super().__init__(AmbienceState(), seed=seed, heartbeat_s=heartbeat_s)

    def _world(self, world: str) -> AmbienceWorld:
        return self.state.worlds.setdefault(world, AmbienceWorld())

    def describe(self, world: str, region: str, phase: str) -> str:
        """One short description of ``region`` at ``phase`` (dawn, day, dusk, night)."""
        w = self._world(world)
        rng = self.rng(world, region)
        place = w.names.get(region, region)
        parts = [
            rng.choice(TIME[phase]).format(place=place) + ".",
            rng.choice(WEATHER.get(w.weather.get(region, "clear"), WEATHER["clear"])),
            rng.choice(BIOME.get(w.biomes.get(region, "plains"), BIOME["plains"])),
        ]
        return " ".join(parts)

    async def _describe_occupied(self, ctx: Context, phase: str, trigger: str, only: str | None = None) -> None:
        w = self._world(ctx.frame.world)
        for region in sorted(set(w.players.values())):
            if only is None or region == only:
                await ctx.emit(NarrativeAmbience(
                    region=region, text=self.describe(ctx.frame.world, region, phase), trigger=trigger))

    @on("lw.*.world.opened", key=_by_world)
    async def world_opened(self, event: WorldOpened, ctx: Context) -> None:
        """Learn places' names and biomes."""
        w = self._world(ctx.frame.world)
        for region in event.regions:
            w.names[region.id] = region.name or region.id
            w.biomes[region.id] = region.biome

    @on("lw.*.world.closed", key=_by_world)
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @on("lw.*.weather.changed", key=_by_world)
    async def weather_changed(self, event: WeatherChanged, ctx: Context) -> None:
        """Describe the new weather where players are."""
        w = self._world(ctx.frame.world)
        w.weather[event.region] = event.condition
        await self._describe_occupied(ctx, "day" if w.daylight else "night", "weather", only=event.region)

    @on("lw.*.clock.tick", key=_by_world)
    async def tick(self, event: ClockTick, ctx: Context) -> None:
        """Keep day and night."""
        self._world(ctx.frame.world).daylight = event.daylight

    @on("lw.*.clock.dawn", key=_by_world)
    async def dawn(self, event: ClockDawn, ctx: Context) -> None:
        """Describe the sunrise where players are."""
        self._world(ctx.frame.world).daylight = True
        await self._describe_occupied(ctx, "dawn", "dawn")

    @on("lw.*.clock.dusk", key=_by_world)
    async def dusk(self, event: ClockDusk, ctx: Context) -> None:
        """Describe the sunset where players are."""
        self._world(ctx.frame.world).daylight = False
        await self._describe_occupied(ctx, "dusk", "dusk")

    async def _arrive(self, ctx: Context, player_id: str, region: str) -> None:
        w = self._world(ctx.frame.world)
        w.players[player_id] = region
        if region:
            await ctx.emit(NarrativeAmbience(
                region=region, text=self.describe(ctx.frame.world, region, "day" if w.daylight else "night"),
                player_id=player_id, trigger="arrival"))

    @on("lw.*.player.*", key=_by_world)
    async def player_event(self, event: Event, ctx: Context) -> None:
        """Describe where a player appears or arrives; forget those who leave."""
        if isinstance(event, (PlayerJoined, PlayerMoved)):
            await self._arrive(ctx, event.player_id, event.region)
        elif isinstance(event, PlayerLeft):
            self._world(ctx.frame.world).players.pop(event.player_id, None)
