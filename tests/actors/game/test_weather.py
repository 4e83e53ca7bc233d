"""Weather: a seasonal, biome-biased Markov chain per region that emits changes only."""

from __future__ import annotations

from loreweave.actors.runtime import Bus
from loreweave.actors.weather import TRANSITIONS, Weather
from loreweave.schemas import ClockTick, WeatherChanged, WeatherGetReport

from .conftest import ask, eventually, record, settle, small_map

DRAWS = [index / 1000 for index in range(1000)]


def share(current: str, season: str, biome: str, condition: str) -> float:
    return sum(Weather.next_condition(current, season, biome, d) == condition for d in DRAWS) / len(DRAWS)


def test_transitions_are_probabilities_and_biomes_bias_them() -> None:
    for season, table in TRANSITIONS.items():
        for current, row in table.items():
            assert abs(sum(row.values()) - 1.0) < 1e-9, (season, current)
    assert share("clear", "summer", "plains", "snow") == 0
    assert share("cloudy", "winter", "mountain", "snow") > share("cloudy", "winter", "plains", "snow") + 0.1
    assert share("clear", "autumn", "swamp", "fog") > share("clear", "autumn", "plains", "fog")


async def ticks(bus: Bus, world: str, hours: int) -> None:
    for hour in range(1, hours + 1):
        await bus.emit(ClockTick(tick=hour, game_minutes=hour * 60, hour=hour % 24, season="autumn"), world,
                       source="test")


async def test_changes_only_caused_by_ticks_and_reported(bus, start_node, world, frames) -> None:
    actor = Weather(seed=5)
    await start_node(actor)
    await bus.emit(small_map(), world, source="test")
    await eventually(lambda: world in actor.state.worlds)  # the map and ticks come through different handlers
    await ticks(bus, world, 150)
    await eventually(lambda: len(frames.of(ClockTick)) == 150 and len(frames.of(WeatherChanged)) >= 20)
    await settle(frames)
    last: dict[str, str] = {}
    tick_ids = {frame.id for frame in frames.frames_of(ClockTick)}
    for frame in frames.frames_of(WeatherChanged):
        change = frame.payload
        assert change.previous == last.get(change.region, "clear") != change.condition
        assert frame.causation_id in tick_ids and change.season == "autumn"
        last[change.region] = change.condition
    report = await ask(bus, world, WeatherGetReport())
    assert report.regions == {region: last.get(region, "clear") for region in ("coast", "ford", "mire", "peaks")}


async def run_weather(bus: Bus, start_node, seed: int, worlds: list[str]) -> dict[str, list[tuple[str, str]]]:
    actor = Weather(seed=seed)
    node = await start_node(actor)
    seen = {w: await record(bus, f"lw.{w}.weather.changed") for w in worlds}
    for w in worlds:
        await bus.emit(small_map(), w, source="test")
        await eventually(lambda w=w: w in actor.state.worlds)
        await ticks(bus, w, 120)
    await eventually(lambda: all(len(seen[w].frames) >= 10 for w in worlds))
    for w in worlds:
        await settle(seen[w])
    await node.stop()
    return {w: [(c.region, c.condition) for c in seen[w].of(WeatherChanged)] for w in worlds}


async def test_same_seed_same_weather_other_seed_other_weather(bus, start_node, world) -> None:
    same = await run_weather(bus, start_node, 11, [f"{world}a", f"{world}b"])
    other = await run_weather(bus, start_node, 12, [f"{world}c"])
    assert same[f"{world}a"] == same[f"{world}b"]
    assert same[f"{world}a"] != other[f"{world}c"]
