"""World state (world-state): the authoritative facts of each world, built only from events.

Consumes: ``world.opened``/``closed``/``flag_set``/``region_claimed``, ``npc.spawned``,
``npc.moved``, ``player.joined``/``moved``/``left``, ``weather.changed``, ``clock.day``,
``clock.dawn``, ``clock.dusk``. Answers ``world.get_snapshot`` and ``world.query``.
Emits nothing: it is the world's memory, not a voice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import LoreweaveError
from loreweave.schemas import (
    ClockDawn,
    ClockDay,
    ClockDusk,
    Event,
    NpcMoved,
    NpcSpawned,
    PlayerJoined,
    PlayerLeft,
    PlayerMoved,
    RegionFacts,
    WeatherChanged,
    WorldAnswer,
    WorldClosed,
    WorldFacts,
    WorldFlagSet,
    WorldGetSnapshot,
    WorldOpened,
    WorldQuery,
    WorldRegionClaimed,
    WorldSnapshot,
)


class WorldStateStore(BaseModel):
    """Facts of every world."""

    worlds: dict[str, WorldFacts] = Field(default_factory=dict)


def _by_world(frame: Any) -> str:
    return frame.world  # one order for every fact of a world


class World(GameActor[WorldStateStore]):
    """Keeps each world's facts and answers questions about them."""

    name = "world"

    def __init__(self, *, seed: int = 0, heartbeat_s: float = 5.0) -> None:
        super().__init__(WorldStateStore(), seed=seed, heartbeat_s=heartbeat_s)

    def facts(self, world: str) -> WorldFacts:
        """The facts of ``world`` (empty until its first event)."""
        facts = self.state.worlds.get(world)
        if facts is None:
            facts = self.state.worlds[world] = WorldFacts()
        facts.events_applied += 1
        return facts

    @on("lw.*.world.opened", key=_by_world)
    async def opened(self, event: WorldOpened, ctx: Context) -> None:
        """Record the map and factions."""
        facts = self.facts(ctx.frame.world)
        facts.title = event.title
        facts.factions = list(dict.fromkeys([*facts.factions, *event.factions]))
        for region in event.regions:
            known = facts.regions.get(region.id)
            facts.regions[region.id] = RegionFacts(  # keep what events taught before the map came
                name=region.name or region.id, biome=region.biome, neighbours=list(region.neighbours),
                faction=(known.faction if known and known.faction else region.faction),
                weather=known.weather if known else "clear",
            )
            if region.faction and region.faction not in facts.factions:
                facts.factions.append(region.faction)

    @on("lw.*.world.closed", key=_by_world)
    async def closed(self, event: WorldClosed, ctx: Context) -> None:
        """Drop the world's facts."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @on("lw.*.world.flag_set", key=_by_world)
    async def flag_set(self, event: WorldFlagSet, ctx: Context) -> None:
        """Record a flag."""
        self.facts(ctx.frame.world).flags[event.flag] = event.value

    @on("lw.*.world.region_claimed", key=_by_world)
    async def region_claimed(self, event: WorldRegionClaimed, ctx: Context) -> None:
        """Record who controls a region."""
        facts = self.facts(ctx.frame.world)
        facts.regions.setdefault(event.region, RegionFacts(name=event.region)).faction = event.faction
        if event.faction not in facts.factions:
            facts.factions.append(event.faction)

    @on("lw.*.npc.spawned", key=_by_world)
    async def npc_spawned(self, event: NpcSpawned, ctx: Context) -> None:
        """Place an NPC."""
        self.facts(ctx.frame.world).npcs[event.npc_id] = event.region

    @on("lw.*.npc.moved", key=_by_world)
    async def npc_moved(self, event: NpcMoved, ctx: Context) -> None:
        """Move an NPC: it is only ever in one region."""
        self.facts(ctx.frame.world).npcs[event.npc_id] = event.to_region

    @on("lw.*.player.*", key=_by_world)
    async def player_event(self, event: Event, ctx: Context) -> None:
        """Place players as they join, move and leave (one handler keeps their order)."""
        if isinstance(event, (PlayerJoined, PlayerMoved)):
            self.facts(ctx.frame.world).players[event.player_id] = event.region
        elif isinstance(event, PlayerLeft):
            self.facts(ctx.frame.world).players.pop(event.player_id, None)

    @on("lw.*.weather.changed", key=_by_world)
    async def weather_changed(self, event: WeatherChanged, ctx: Context) -> None:
        """Record a region's weather."""
        facts = self.facts(ctx.frame.world)
        facts.regions.setdefault(event.region, RegionFacts(name=event.region)).weather = event.condition

    @on("lw.*.clock.day", key=_by_world)
    async def day(self, event: ClockDay, ctx: Context) -> None:
        """Record the day and season."""
        facts = self.facts(ctx.frame.world)
        facts.day, facts.season = event.day, event.season

    @on("lw.*.clock.dawn", key=_by_world)
    async def dawn(self, event: ClockDawn, ctx: Context) -> None:
        """The sun is up."""
        self.facts(ctx.frame.world).daylight = True

    @on("lw.*.clock.dusk", key=_by_world)
    async def dusk(self, event: ClockDusk, ctx: Context) -> None:
        """The sun is down."""
        self.facts(ctx.frame.world).daylight = False

    def _known(self, world: str) -> WorldFacts:
        facts = self.state.worlds.get(world)
        if facts is None:
            raise LoreweaveError("world", f"no facts about world {world!r} (no event seen in it)")
        return facts

    @reply("lw.rpc.*.world.get_snapshot", key=_by_world)
    async def get_snapshot(self, event: WorldGetSnapshot, ctx: Context) -> WorldSnapshot:
        """Every fact of the world."""
        return WorldSnapshot(facts=self._known(ctx.frame.world).model_copy(deep=True))

    @reply("lw.rpc.*.world.query", key=_by_world)
    async def query(self, event: WorldQuery, ctx: Context) -> WorldAnswer:
        """One fact; ``found`` is false for an id the world does not know."""
        facts = self._known(ctx.frame.world)
        value: Any = None
        if event.kind == "region":
            region = facts.regions.get(event.id)
            value = region.model_dump() if region else None
        elif event.kind == "npc":
            value = facts.npcs.get(event.id)
        elif event.kind == "player":
            value = facts.players.get(event.id)
        elif event.kind == "flag":
            value = facts.flags.get(event.id)
        elif event.kind == "faction" and event.id in facts.factions:
            value = sorted(rid for rid, region in facts.regions.items() if region.faction == event.id)
        elif event.kind == "occupants" and event.id in facts.regions:
            value = {
                "npcs": sorted(npc for npc, region in facts.npcs.items() if region == event.id),
                "players": sorted(p for p, region in facts.players.items() if region == event.id),
            }
        return WorldAnswer(kind=event.kind, id=event.id, found=value is not None, value=value)
