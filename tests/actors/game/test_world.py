"""World state: facts built from events, answered as snapshots and queries."""

from __future__ import annotations

import pytest

from loreweave.actors.runtime import RequestError
from loreweave.actors.world import World
from loreweave.schemas import (
    ClockDay,
    NpcMoved,
    NpcSpawned,
    PlayerJoined,
    PlayerLeft,
    PlayerMoved,
    WeatherChanged,
    WorldFlagSet,
    WorldGetSnapshot,
    WorldQuery,
    WorldRegionClaimed,
)

from .conftest import ask, eventually, small_map


async def test_facts_follow_events(bus, start_node, world) -> None:
    actor = World()
    await start_node(actor)
    await bus.emit(small_map(), world, source="test")
    await bus.emit(NpcSpawned(npc_id="tam", name="Tam", region="ford"), world, source="test")
    # each event type has its own handler, so order only holds within a type: map and spawn first
    await eventually(lambda: world in actor.state.worlds and actor.state.worlds[world].events_applied == 2)
    for event in (
        NpcMoved(npc_id="tam", from_region="ford", to_region="mire"),
        PlayerJoined(player_id="p1", region="ford"),
        PlayerJoined(player_id="p2", region="mire"),
        PlayerMoved(player_id="p1", region="peaks"),
        PlayerLeft(player_id="p2"),
        WorldFlagSet(flag="bridge_repaired", value=True),
        WorldRegionClaimed(region="mire", faction="covenant"),
        WeatherChanged(region="coast", condition="storm", previous="clear", season="spring"),
        ClockDay(day=2, season="summer", game_minutes=2 * 1440),
    ):
        await bus.emit(event, world, source="test")
    await eventually(lambda: actor.state.worlds[world].events_applied == 11)
    facts = (await ask(bus, world, WorldGetSnapshot())).facts
    assert facts.npcs == {"tam": "mire"}
    assert facts.players == {"p1": "peaks"}
    assert facts.flags == {"bridge_repaired": True}
    assert facts.regions["mire"].faction == "covenant" and facts.regions["coast"].weather == "storm"
    assert (facts.day, facts.season, facts.title) == (2, "summer", "Test Reach")

    occupants = await ask(bus, world, WorldQuery(kind="occupants", id="mire"))
    assert occupants.found and occupants.value == {"npcs": ["tam"], "players": []}
    covenant = await ask(bus, world, WorldQuery(kind="faction", id="covenant"))
    assert covenant.value == ["mire", "peaks"]
    region = await ask(bus, world, WorldQuery(kind="region", id="ford"))
    assert region.value["name"] == "Fennick's Ford" and region.value["neighbours"] == ["mire"]
    missing = await ask(bus, world, WorldQuery(kind="npc", id="nobody"))
    assert not missing.found and missing.value is None


async def test_an_unknown_world_is_a_clear_error(bus, start_node, world) -> None:
    await start_node(World())
    with pytest.raises(RequestError) as error:
        await ask(bus, world, WorldGetSnapshot())
    assert error.value.code == "bad_request" and world in error.value.message


async def test_joins_moves_and_leaves_apply_in_order(bus, start_node, world) -> None:
    actor = World()
    await start_node(actor)
    for round_ in range(30):
        for player in ("a", "b", "c"):
            await bus.emit(PlayerJoined(player_id=player, region="ford"), world, source="test")
            await bus.emit(PlayerMoved(player_id=player, region=f"r{round_}"), world, source="test")
            await bus.emit(PlayerLeft(player_id=player), world, source="test")
    await bus.emit(PlayerJoined(player_id="last", region="mire"), world, source="test")
    await eventually(lambda: world in actor.state.worlds and actor.state.worlds[world].events_applied == 271)
    assert (await ask(bus, world, WorldGetSnapshot())).facts.players == {"last": "mire"}  # no ghost left behind
