"""Events NPCs emit."""

from __future__ import annotations

from pydantic import Field

from loreweave.schemas.base import Event, event


@event("npc.said", key="npc_id")
class NpcSaid(Event):
    """An NPC spoke a line, to a player or to the room."""

    npc_id: str = Field(min_length=1, max_length=64)
    text: str = Field(max_length=4000)
    to_player: str | None = None
    tier: str = Field(default="scripted", description="The AI tier (or script) that wrote the line.")
