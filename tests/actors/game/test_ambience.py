"""Ambience: short descriptions of the places players are, as weather, time and visitors change."""

from __future__ import annotations

from loreweave.actors.ambience import Ambience
from loreweave.schemas import ClockDawn, NarrativeAmbience, PlayerJoined, PlayerLeft, PlayerMoved, WeatherChanged

from .conftest import eventually, settle, small_map


async def test_ambience_describes_occupied_places(bus, start_node, world, frames) -> None:
    actor = Ambience(seed=4)
    await start_node(actor)
    await bus.emit(small_map(), world, source="test")
    await eventually(lambda: world in actor.state.worlds)  # each event type has its own handler: go step by step

    async def step(event, ambiences: int) -> None:
        await bus.emit(event, world, source="test")
        await eventually(lambda: len(frames.of(NarrativeAmbience)) == ambiences)

    await step(PlayerJoined(player_id="ann", region="ford"), 1)
    await step(PlayerMoved(player_id="ann", region="peaks"), 2)
    await step(PlayerJoined(player_id="bob", region="coast"), 3)
    await step(WeatherChanged(region="peaks", condition="snow", previous="clear", season="winter"), 4)
    await bus.emit(WeatherChanged(region="mire", condition="fog", previous="clear", season="winter"), world,
                   source="test")  # nobody is in the Mirewood
    await bus.emit(PlayerLeft(player_id="bob"), world, source="test")
    await eventually(lambda: "bob" not in actor.state.worlds[world].players)
    await step(ClockDawn(day=1, season="winter", game_minutes=1440 + 480), 5)
    await settle(frames)
    seen = [(a.trigger, a.region, a.player_id) for a in frames.of(NarrativeAmbience)]
    assert seen == [
        ("arrival", "ford", "ann"), ("arrival", "peaks", "ann"), ("arrival", "coast", "bob"),
        ("weather", "peaks", None), ("dawn", "peaks", None),
    ]
    texts = [a.text for a in frames.of(NarrativeAmbience)]
    assert "Fennick's Ford" in texts[0] and "The Ashpeaks" in texts[1]
    assert any(word in texts[3].lower() for word in ("snow", "drifts"))
    assert any(word in texts[4].lower() for word in ("dawn", "first light"))
