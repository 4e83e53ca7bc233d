"""Players: sessions with heartbeat timeouts, profiles with quest rewards, who is near whom."""

from __future__ import annotations

import asyncio

import pytest

from loreweave.actors.players import Players
from loreweave.actors.runtime import RequestError
from loreweave.schemas import (
    PlayerGetNearby,
    PlayerGetProfile,
    PlayerHeartbeat,
    PlayerJoined,
    PlayerLeft,
    PlayerMet,
    PlayerMoved,
    QuestCompleted,
    Rewards,
)

from .conftest import ask, eventually


async def test_meetings_nearby_and_profiles(bus, start_node, world, frames) -> None:
    await start_node(Players())
    await bus.emit(PlayerJoined(player_id="ann", name="Ann", region="ford", locale="fr"), world, source="test")
    await bus.emit(PlayerJoined(player_id="bob", region="mire"), world, source="test")
    await bus.emit(PlayerJoined(player_id="cat", region="ford"), world, source="test")
    await eventually(lambda: len(frames.of(PlayerMet)) == 1)
    assert frames.of(PlayerMet)[0].model_dump() == {"player_id": "cat", "region": "ford", "others": ["ann"]}
    await bus.emit(PlayerMoved(player_id="bob", region="ford"), world, source="test")
    await eventually(lambda: len(frames.of(PlayerMet)) == 2)
    assert frames.of(PlayerMet)[1].others == ["ann", "cat"]
    nearby = await ask(bus, world, PlayerGetNearby(player_id="ann"))
    assert (nearby.region, nearby.players) == ("ford", ["bob", "cat"])

    await bus.emit(QuestCompleted(player_id="ann", quest_id="q", rewards=Rewards(xp=50, gold=7, items=["charm"])),
                   world, source="test")
    await bus.emit(PlayerLeft(player_id="cat"), world, source="test")
    await eventually(lambda: _profile_xp(bus, world, "ann", 50))
    profile = await ask(bus, world, PlayerGetProfile(player_id="ann"))
    assert (profile.name, profile.locale, profile.online, profile.sessions) == ("Ann", "fr", True, 1)
    assert (profile.gold, profile.items, profile.quests_completed) == (7, {"charm": 1}, 1)
    assert (await ask(bus, world, PlayerGetNearby(player_id="ann"))).players == ["bob"]
    with pytest.raises(RequestError, match="unknown player"):
        await ask(bus, world, PlayerGetProfile(player_id="zed"))


async def _profile_xp(bus, world, player_id, xp) -> bool:
    return (await ask(bus, world, PlayerGetProfile(player_id=player_id))).xp == xp


async def test_silent_sessions_time_out_once(bus, start_node, world, frames) -> None:
    await start_node(Players(session_timeout_s=0.4, sweep_s=0.05))
    await bus.emit(PlayerJoined(player_id="quiet", region="ford"), world, source="test")
    await bus.emit(PlayerJoined(player_id="chatty", region="ford"), world, source="test")
    for _ in range(12):
        await bus.emit(PlayerHeartbeat(player_id="chatty"), world, source="test")
        await asyncio.sleep(0.1)
    left = frames.of(PlayerLeft)
    assert [(event.player_id, event.reason) for event in left] == [("quiet", "timeout")]
    assert not (await ask(bus, world, PlayerGetProfile(player_id="quiet"))).online
    assert (await ask(bus, world, PlayerGetProfile(player_id="chatty"))).online
