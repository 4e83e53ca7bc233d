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


@event("player.heartbeat", key="player_id")
class PlayerHeartbeat(Event):
    """A player's client is still connected; sessions without one time out."""

    player_id: str = Field(min_length=1, max_length=64)


@event("player.collected", key="player_id")
class PlayerCollected(Event):
    """A player picked up items."""

    player_id: str = Field(min_length=1, max_length=64)
    item: str = Field(min_length=1, max_length=64)
    count: int = Field(default=1, ge=1, le=10_000)


@event("player.defeated", key="player_id")
class PlayerDefeated(Event):
    """A player defeated creatures or foes."""

    player_id: str = Field(min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=64)
    count: int = Field(default=1, ge=1, le=10_000)


@event("player.met", key="player_id")
class PlayerMet(Event):
    """A player arrived where other players are (who is near whom)."""

    player_id: str = Field(min_length=1, max_length=64)
    region: str = Field(min_length=1, max_length=64)
    others: list[str] = Field(default_factory=list, max_length=32)


@event("player.get_profile", key="player_id")
class PlayerGetProfile(Event):
    """Request: a player's profile."""

    player_id: str = Field(min_length=1, max_length=64)


@event("player.profile", key="player_id")
class PlayerProfile(Event):
    """Reply to ``player.get_profile``."""

    player_id: str
    name: str = ""
    locale: str = "en"
    region: str = ""
    online: bool = False
    sessions: int = 0
    xp: int = 0
    gold: int = 0
    items: dict[str, int] = Field(default_factory=dict)
    quests_completed: int = 0


@event("player.get_nearby", key="player_id")
class PlayerGetNearby(Event):
    """Request: the online players in the same region as a player."""

    player_id: str = Field(min_length=1, max_length=64)


@event("player.nearby", key="player_id")
class PlayerNearby(Event):
    """Reply to ``player.get_nearby``."""

    player_id: str
    region: str
    players: list[str] = Field(default_factory=list)
