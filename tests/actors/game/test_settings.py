"""Settings: validated, versioned, broadcast on change."""

from __future__ import annotations

import pytest

from loreweave.actors.runtime import RequestError
from loreweave.actors.settings import Settings
from loreweave.schemas import SettingsChanged, SettingsGet, SettingsUpdate

from .conftest import ask, eventually, settle


async def test_changes_are_validated_versioned_and_broadcast(bus, start_node, world, frames) -> None:
    await start_node(Settings())
    current = await ask(bus, world, SettingsGet())
    assert current.version == 0 and current.settings.content_rating == "teen"

    updated = await ask(bus, world, SettingsUpdate(changes={"content_rating": "mature", "npc_chatter": 0.3},
                                                   by="ops"))
    assert updated.version == 1 and updated.settings.content_rating == "mature"
    await eventually(lambda: len(frames.of(SettingsChanged)) == 1)
    change = frames.of(SettingsChanged)[0]
    assert change.changes == {"content_rating": "mature"}  # npc_chatter did not change
    assert change.version == 1 and change.by == "ops" and change.settings.content_rating == "mature"

    with pytest.raises(RequestError) as error:
        await ask(bus, world, SettingsUpdate(changes={"clock_speed": -5, "content_rating": "everyone"}))
    assert error.value.code == "bad_request" and error.value.args[0].startswith("clock_speed")
    with pytest.raises(RequestError, match="is not a setting"):
        await ask(bus, world, SettingsUpdate(changes={"gravity": 2}))
    with pytest.raises(RequestError, match="settings are at version 1"):
        await ask(bus, world, SettingsUpdate(changes={"clock_speed": 5}, expected_version=0))
    same = await ask(bus, world, SettingsUpdate(changes={"content_rating": "mature"}))
    assert same.version == 1
    latest = await ask(bus, world, SettingsUpdate(changes={"clock_speed": 5, "ai_tiers": ["small", "scripted"]},
                                                  expected_version=1))
    assert latest.version == 2
    await settle(frames)
    assert [c.version for c in frames.of(SettingsChanged)] == [1, 2]
    history = (await ask(bus, world, SettingsGet(include_history=True))).history
    assert [(h.version, sorted(h.changes)) for h in history] == [(1, ["content_rating"]), (2, ["ai_tiers", "clock_speed"])]
    assert (await ask(bus, world, SettingsGet())).settings.content_rating == "mature"  # refused updates changed nothing
