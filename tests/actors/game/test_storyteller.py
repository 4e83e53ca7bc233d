"""Storyteller: a tension curve, beats traceable to their causes, hooks when the story sags."""

from __future__ import annotations

from loreweave.actors.storyteller import Storyteller, target_tension
from loreweave.schemas import (
    ClockDusk,
    ClockTick,
    NarrativeBeat,
    NarrativeHook,
    PlayerJoined,
    QuestAvailable,
    QuestFailed,
    WeatherChanged,
    WorldRegionClaimed,
)

from .conftest import eventually, settle, small_map


def test_the_arc_rises_to_a_climax_and_falls() -> None:
    start, middle, end = (target_tension(day * 1440, 4, 0.5) for day in (0, 2, 3.9))
    assert start < 0.2 and middle > 0.65 and end < 0.3
    assert target_tension(2 * 1440, 4, 1.0) > target_tension(2 * 1440, 4, 0.0)


async def test_beats_carry_their_cause_and_tension(bus, start_node, world, frames) -> None:
    await start_node(Storyteller(seed=1))
    for count, event in enumerate((  # one at a time: each event type has its own handler
        small_map(),
        PlayerJoined(player_id="ann", name="Ann", region="ford"),
        WeatherChanged(region="peaks", condition="storm", previous="rain", season="spring"),
        QuestFailed(player_id="ann", quest_id="q", reason="timeout"),
        WorldRegionClaimed(region="mire", faction="covenant"),
        ClockDusk(day=0, season="spring", game_minutes=19 * 60),
    ), start=1):
        await bus.emit(event, world, source="test")
        await eventually(lambda count=count: len(frames.of(NarrativeBeat)) == count)
    beats = frames.frames_of(NarrativeBeat)
    kinds = [frame.payload.kind for frame in beats]
    assert kinds == ["opening", "arrival", "weather", "quest", "conflict", "chapter"]
    by_id = {frame.id: frame for frame in frames.frames}
    causes = [by_id[frame.causation_id].type for frame in beats]
    assert causes == ["world.opened", "player.joined", "weather.changed", "quest.failed", "world.region_claimed",
                      "clock.dusk"]
    tensions = [frame.payload.tension for frame in beats]
    assert tensions[1] < tensions[2] < tensions[3] < tensions[4]  # arrivals, storms, failures, conflicts all rise
    assert "Ann" in beats[1].payload.text and "The Ashpeaks" in beats[2].payload.text


async def test_hooks_come_when_tension_sags_and_beats_are_rationed(bus, start_node, world, frames) -> None:
    teller = Storyteller(seed=1, max_beats_per_hour=3, hook_every_hours=4)
    await start_node(teller)
    await bus.emit(small_map(), world, source="test")
    await bus.emit(QuestAvailable(quest_id="reeds", title="The Dry Paths", region="mire"), world, source="test")
    await eventually(lambda: len(frames.of(NarrativeBeat)) == 1 and "reeds" in teller.state.worlds[world].quests)
    for number in range(8):
        await bus.emit(PlayerJoined(player_id=f"p{number}", region="ford"), world, source="test")
    await eventually(lambda: len(teller.state.worlds[world].players) == 8)
    for hour in range(1, 13):
        await bus.emit(ClockTick(tick=hour, game_minutes=hour * 60, hour=hour), world, source="test")
    await eventually(lambda: len(frames.of(ClockTick)) == 12)
    await settle(frames)
    arrivals = [b for b in frames.of(NarrativeBeat) if b.kind == "arrival"]
    assert len(arrivals) == 2  # the opening beat used one of the hour's three
    hooks = frames.frames_of(NarrativeHook)
    assert [frame.payload.quest_id for frame in hooks] == ["reeds"]  # the same quest is not hooked again for 2 days
    assert hooks[0].payload.region == "mire" and "The Mirewood" in hooks[0].payload.text
    assert hooks[0].causation_id in {frame.id for frame in frames.frames_of(ClockTick)}
