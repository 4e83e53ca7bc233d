"""Quest events: offers, acceptance, progress, completion and failure, and the journal request."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from loreweave.schemas.base import Event, event
from loreweave.schemas.common import FlagValue, Id

QuestState = Literal["active", "completed", "failed"]
ObjectiveKind = Literal["visit", "talk", "collect", "defeat"]


class Objective(BaseModel):
    """One thing a quest asks: visit a region, talk to an NPC, collect items, defeat foes."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    kind: ObjectiveKind
    target: str = Field(min_length=1, max_length=64, description="Region, NPC, item or foe id.")
    count: int = Field(default=1, ge=1, le=10_000)


class Rewards(BaseModel):
    """What finishing a quest gives."""

    model_config = ConfigDict(extra="forbid")

    xp: int = Field(default=0, ge=0)
    gold: int = Field(default=0, ge=0)
    items: list[str] = Field(default_factory=list)
    flags: dict[str, FlagValue] = Field(default_factory=dict, description="World flags set on completion.")


@event("quest.available", key="quest_id")
class QuestAvailable(Event):
    """A quest can be taken in a world (sent when the world opens)."""

    quest_id: Id
    title: str
    giver: str | None = None
    region: str | None = None
    summary: str = ""


@event("quest.accept", key="player_id")
class QuestAccept(Event):
    """Request: a player takes a quest."""

    player_id: Id
    quest_id: Id


@event("quest.abandon", key="player_id")
class QuestAbandon(Event):
    """Request: a player gives up an active quest (it fails with reason ``abandoned``)."""

    player_id: Id
    quest_id: Id


class QuestProgress(BaseModel):
    """One quest of one player."""

    quest_id: str
    state: QuestState
    objectives: list[Objective] = Field(default_factory=list)
    progress: dict[str, int] = Field(default_factory=dict, description="Objective id -> count done.")
    accepted_at: int = Field(default=0, description="Game minutes.")
    deadline: int | None = Field(default=None, description="Game minutes; fails when passed.")
    failure: str | None = None


@event("quest.status", key="player_id")
class QuestStatus(Event):
    """Reply to ``quest.accept`` and ``quest.abandon``."""

    player_id: str
    quest: QuestProgress


@event("quest.accepted", key="player_id")
class QuestAccepted(Event):
    """A player took a quest."""

    player_id: Id
    quest_id: Id
    giver: str | None = None
    deadline: int | None = None


@event("quest.progressed", key="player_id")
class QuestProgressed(Event):
    """An objective of a player's quest advanced."""

    player_id: Id
    quest_id: Id
    objective: str
    count: int = Field(ge=0)
    needed: int = Field(ge=1)


@event("quest.completed", key="player_id")
class QuestCompleted(Event):
    """A player finished every objective of a quest."""

    player_id: Id
    quest_id: Id
    giver: str | None = None
    region: str | None = None
    rewards: Rewards = Field(default_factory=Rewards)


@event("quest.failed", key="player_id")
class QuestFailed(Event):
    """A player's quest failed (``timeout`` or ``abandoned``)."""

    player_id: Id
    quest_id: Id
    giver: str | None = None
    region: str | None = None
    reason: str


@event("quest.get_journal", key="player_id")
class QuestGetJournal(Event):
    """Request: a player's quests and the ones they may take now."""

    player_id: Id


@event("quest.journal", key="player_id")
class QuestJournal(Event):
    """Reply to ``quest.get_journal``."""

    player_id: str
    quests: list[QuestProgress]
    available: list[str]
