"""The catalog builds any subset of actors and refuses unknown names clearly."""

from __future__ import annotations

import pytest

from loreweave.actors.catalog import ACTORS, build_actors, parse_actor_names
from loreweave.actors.clock import Clock
from loreweave.actors.quests import Quests
from loreweave.protocol import ConfigError

ISSUE_ACTORS = {"clock", "weather", "world", "players", "npc", "quests", "storyteller", "ambience", "language",
                "settings", "registry", "qos", "payments", "versions", "journal"}


def test_every_game_system_has_an_actor() -> None:
    assert set(ACTORS) == ISSUE_ACTORS
    actors = build_actors(["all"], seed=9)
    assert [a.name for a in actors] == list(ACTORS)
    assert all(a.seed == 9 for a in actors if a.name != "journal")  # the journal makes no random choice
    quests = next(a for a in actors if isinstance(a, Quests))
    assert "lantern-of-saint-irri" in quests.definitions


def test_subsets_options_and_unknown_names() -> None:
    assert parse_actor_names("clock, weather") == ["clock", "weather"]
    assert parse_actor_names("all") == list(ACTORS)
    actors = build_actors(["weather", "clock"], seed=1, options={"clock": {"speed": 60}}, heartbeat_s=0.5)
    assert [a.name for a in actors] == ["weather", "clock"]
    clock = actors[1]
    assert isinstance(clock, Clock) and clock.speed == 60
    assert {spec.interval_s for spec in clock.handler_specs if spec.method == "heartbeat"} == {0.5}
    with pytest.raises(ConfigError) as error:
        build_actors(["clock", "wether"])
    assert error.value.field == "actors" and "unknown actor 'wether'" in error.value.reason
    assert "weather" in error.value.reason and "storyteller" in error.value.reason
