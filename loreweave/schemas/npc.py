"""Events about NPCs: spawning, moving, speaking, relationships, and the state request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.common import Id

Standing = Literal["hostile", "wary", "neutral", "friendly", "ally"]
ScheduleKind = Literal["day", "night", "wanderer"]


@event("npc.said", version="1.1", key="npc_id")
class NpcSaid(Event):
    """An NPC spoke a line, to a player or to the room."""

    npc_id: str = Field(min_length=1, max_length=64)
    text: str = Field(max_length=4000)
    to_player: str | None = None
    tier: str = Field(default="scripted", description="The AI tier (or script) that wrote the line.")
    fallback: str = Field(
        default="", max_length=200,
        description="Why the script wrote the line instead of an AI tier (the error, e.g. TimeoutError); "
        "'' when it did not fall back. Added in 1.1.",
    )


@event("npc.spawned", key="npc_id")
class NpcSpawned(Event):
    """A game server placed an NPC: who it is and where it lives, works and spends its evenings."""

    npc_id: Id
    name: str = Field(default="", max_length=64)
    role: str = Field(default="villager", max_length=32)
    region: Id
    home: str | None = Field(default=None, max_length=64)
    work: str | None = Field(default=None, max_length=64)
    social: str | None = Field(default=None, max_length=64)
    schedule: ScheduleKind = "day"
    traits: list[str] = Field(default_factory=list, max_length=16)


@event("npc.moved", key="npc_id")
class NpcMoved(Event):
    """An NPC went from one region to another."""

    npc_id: Id
    from_region: Id
    to_region: Id
    activity: str = ""


@event("npc.activity_changed", key="npc_id")
class NpcActivityChanged(Event):
    """An NPC started doing something else (work, eat, sleep, socialise, shelter, wander)."""

    npc_id: Id
    activity: str
    region: Id
    reason: str = "schedule"


@event("npc.relationship_changed", key="npc_id")
class NpcRelationshipChanged(Event):
    """An NPC's standing towards a player moved to another band."""

    npc_id: Id
    player_id: Id
    value: float = Field(ge=-1, le=1)
    standing: Standing


@event("npc.get_state", key="npc_id")
class NpcGetState(Event):
    """Request: an NPC's current state."""

    npc_id: Id


@event("npc.state", key="npc_id")
class NpcStateReply(Event):
    """Reply to ``npc.get_state``."""

    npc_id: str
    name: str
    role: str
    region: str
    activity: str
    needs: dict[str, float]
    relationships: dict[str, float]
    memory: list[str]
