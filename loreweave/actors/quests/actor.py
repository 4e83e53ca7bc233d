"""Quests (quest-system): each player's quests as state machines driven by events.

``active`` -> ``completed`` when every objective is done, or -> ``failed`` when the time
limit (game minutes, from the clock) passes or the player abandons it. Prerequisites are
completed quests; a non-repeatable quest is taken once.

Consumes: ``world.opened``/``closed``, ``clock.tick``, ``player.moved`` (visit),
``player.spoke`` (talk), ``player.collected``, ``player.defeated``. Answers ``quest.accept``,
``quest.abandon``, ``quest.get_journal``. Emits: ``quest.available`` (when a world opens),
``quest.accepted``, ``quest.progressed``, ``quest.completed``, ``quest.failed``, and the
rewards' ``world.flag_set``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.quests.definitions import QuestDefinition
from loreweave.actors.runtime import Context, on, reply
from loreweave.protocol import LoreweaveError
from loreweave.schemas import (
    ClockTick,
    PlayerCollected,
    PlayerDefeated,
    PlayerMoved,
    PlayerSpoke,
    QuestAbandon,
    QuestAccept,
    QuestAccepted,
    QuestAvailable,
    QuestCompleted,
    QuestFailed,
    QuestGetJournal,
    QuestJournal,
    QuestProgress,
    QuestProgressed,
    QuestStatus,
    WorldClosed,
    WorldFlagSet,
    WorldOpened,
)


class QuestWorld(BaseModel):
    """A world's game time and every player's quests."""

    game_minutes: int = 0
    players: dict[str, dict[str, QuestProgress]] = Field(default_factory=dict)


class QuestsState(BaseModel):
    """Every world's quests."""

    worlds: dict[str, QuestWorld] = Field(default_factory=dict)


class Quests(GameActor[QuestsState]):
    """Runs the quests defined in ``definitions`` (see :mod:`.definitions` for the files)."""

    name = "quests"

    def __init__(
        self, definitions: Mapping[str, QuestDefinition] | None = None, *, seed: int = 0, heartbeat_s: float = 5.0
    ) -> None:
        super().__init__(QuestsState(), seed=seed, heartbeat_s=heartbeat_s)
        self.definitions = dict(definitions or {})

    def _world(self, world: str) -> QuestWorld:
        return self.state.worlds.setdefault(world, QuestWorld())

    def _available(self, quests: dict[str, QuestProgress]) -> list[str]:
        done = {qid for qid, q in quests.items() if q.state == "completed"}
        return [
            qid for qid, definition in sorted(self.definitions.items())
            if set(definition.prerequisites) <= done
            and (qid not in quests or (definition.repeatable and quests[qid].state != "active"))
        ]

    @on("lw.*.world.opened")
    async def world_opened(self, event: WorldOpened, ctx: Context) -> None:
        """Offer every quest of the world."""
        self._world(ctx.frame.world)
        for qid, definition in sorted(self.definitions.items()):
            await ctx.emit(QuestAvailable(
                quest_id=qid, title=definition.title, giver=definition.giver, region=definition.region,
                summary=definition.summary,
            ))

    @on("lw.*.world.closed")
    async def world_closed(self, event: WorldClosed, ctx: Context) -> None:
        """Forget the world."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @reply("lw.rpc.*.quest.accept")
    async def accept(self, event: QuestAccept, ctx: Context) -> QuestStatus:
        """Start a quest for a player, or refuse naming why."""
        definition = self.definitions.get(event.quest_id)
        if definition is None:
            raise LoreweaveError("quest_id", f"unknown quest {event.quest_id!r}")
        w = self._world(ctx.frame.world)
        quests = w.players.setdefault(event.player_id, {})
        current = quests.get(event.quest_id)
        if current is not None and current.state == "active":
            raise LoreweaveError("quest_id", f"{event.quest_id!r} is already active")
        if current is not None and not definition.repeatable:
            raise LoreweaveError("quest_id", f"{event.quest_id!r} was already {current.state} and is not repeatable")
        missing = [q for q in definition.prerequisites if quests.get(q) is None or quests[q].state != "completed"]
        if missing:
            raise LoreweaveError("quest_id", f"{event.quest_id!r} needs {', '.join(missing)} completed first")
        limit = definition.time_limit_minutes
        quest = quests[event.quest_id] = QuestProgress(
            quest_id=event.quest_id, state="active", objectives=list(definition.objectives),
            progress={o.id: 0 for o in definition.objectives}, accepted_at=w.game_minutes,
            deadline=w.game_minutes + limit if limit else None,
        )
        await ctx.emit(QuestAccepted(
            player_id=event.player_id, quest_id=event.quest_id, giver=definition.giver, deadline=quest.deadline
        ))
        return QuestStatus(player_id=event.player_id, quest=quest.model_copy(deep=True))

    @reply("lw.rpc.*.quest.abandon")
    async def abandon(self, event: QuestAbandon, ctx: Context) -> QuestStatus:
        """Fail an active quest with reason ``abandoned``."""
        quest = self._world(ctx.frame.world).players.get(event.player_id, {}).get(event.quest_id)
        if quest is None or quest.state != "active":
            raise LoreweaveError("quest_id", f"{event.quest_id!r} is not active for {event.player_id!r}")
        await self._fail(ctx, event.player_id, quest, "abandoned")
        return QuestStatus(player_id=event.player_id, quest=quest.model_copy(deep=True))

    @reply("lw.rpc.*.quest.get_journal")
    async def journal(self, event: QuestGetJournal, ctx: Context) -> QuestJournal:
        """A player's quests and those they may take now."""
        quests = self._world(ctx.frame.world).players.get(event.player_id, {})
        return QuestJournal(
            player_id=event.player_id,
            quests=[q.model_copy(deep=True) for _, q in sorted(quests.items())],
            available=self._available(quests),
        )

    async def _fail(self, ctx: Context, player_id: str, quest: QuestProgress, reason: str) -> None:
        quest.state, quest.failure = "failed", reason
        definition = self.definitions.get(quest.quest_id)
        await ctx.emit(QuestFailed(
            player_id=player_id, quest_id=quest.quest_id, reason=reason,
            giver=definition.giver if definition else None, region=definition.region if definition else None,
        ))

    async def _advance(self, ctx: Context, player_id: str, kind: str, target: str, amount: int) -> None:
        quests = self._world(ctx.frame.world).players.get(player_id, {})
        for quest in [q for _, q in sorted(quests.items()) if q.state == "active"]:
            for objective in quest.objectives:
                done = quest.progress.get(objective.id, 0)
                if objective.kind != kind or objective.target != target or done >= objective.count:
                    continue
                quest.progress[objective.id] = min(objective.count, done + amount)
                await ctx.emit(QuestProgressed(
                    player_id=player_id, quest_id=quest.quest_id, objective=objective.id,
                    count=quest.progress[objective.id], needed=objective.count,
                ))
            if quest.state == "active" and all(quest.progress.get(o.id, 0) >= o.count for o in quest.objectives):
                await self._complete(ctx, player_id, quest)

    async def _complete(self, ctx: Context, player_id: str, quest: QuestProgress) -> None:
        quest.state = "completed"
        definition = self.definitions[quest.quest_id]
        await ctx.emit(QuestCompleted(
            player_id=player_id, quest_id=quest.quest_id, giver=definition.giver, region=definition.region,
            rewards=definition.rewards,
        ))
        for flag, value in sorted(definition.rewards.flags.items()):
            await ctx.emit(WorldFlagSet(flag=flag, value=value, by=player_id))

    @on("lw.*.player.moved")
    async def moved(self, event: PlayerMoved, ctx: Context) -> None:
        """Visiting a region."""
        await self._advance(ctx, event.player_id, "visit", event.region, 1)

    @on("lw.*.player.spoke", key="player_id")
    async def spoke(self, event: PlayerSpoke, ctx: Context) -> None:
        """Talking to an NPC."""
        await self._advance(ctx, event.player_id, "talk", event.npc_id, 1)

    @on("lw.*.player.collected")
    async def collected(self, event: PlayerCollected, ctx: Context) -> None:
        """Collecting items."""
        await self._advance(ctx, event.player_id, "collect", event.item, event.count)

    @on("lw.*.player.defeated")
    async def defeated(self, event: PlayerDefeated, ctx: Context) -> None:
        """Defeating foes."""
        await self._advance(ctx, event.player_id, "defeat", event.target, event.count)

    @on("lw.*.clock.tick")
    async def tick(self, event: ClockTick, ctx: Context) -> None:
        """Keep game time; fail the active quests whose deadline passed."""
        w = self._world(ctx.frame.world)
        w.game_minutes = event.game_minutes
        for player_id, quests in sorted(w.players.items()):
            for _, quest in sorted(quests.items()):
                if quest.state == "active" and quest.deadline is not None and event.game_minutes > quest.deadline:
                    await self._fail(ctx, player_id, quest, "timeout")
