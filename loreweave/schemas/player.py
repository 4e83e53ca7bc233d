"""Events about players' sessions and actions, sent by game servers."""

from __future__ import annotations

from pydantic import Field

from loreweave.schemas.base import Event, event


@event("player.joined", key="player_id")
class PlayerJoined(Event):
    """A player entered the world."""

    player_id: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=64)
    region: str = Field(default="", max_length=64)
    locale: str = Field(default="en", max_length=16)


@event("player.left", key="player_id")
class PlayerLeft(Event):
    """A player left the world."""

    player_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="quit", max_length=64)


@event("player.moved", key="player_id")
class PlayerMoved(Event):
    """A player moved to another region."""

    player_id: str = Field(min_length=1, max_length=64)
    region: str = Field(min_length=1, max_length=64)


@event("player.spoke", key="npc_id")
class PlayerSpoke(Event):
    """A player said something to an NPC."""

    player_id: str = Field(min_length=1, max_length=64)
    npc_id: str = Field(min_length=1, max_length=64)
    text: str = Field(max_length=2000)
