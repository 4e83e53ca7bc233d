"""Quests (quest-system): each player's quests as state machines driven by events, kept in PostgreSQL.

``active`` -> ``completed`` when every objective is done, or -> ``failed`` when the time
limit (game minutes, from the clock) passes or the player abandons it. Prerequisites are
completed quests; a non-repeatable quest is taken once.

Persistence: a player's quests are rows of ``quest_state`` (:mod:`loreweave.db.quests`) and
nowhere else. The actor is a persistent actor (``State``): its ``@on`` handlers run in stream
order, and each batch commits, in one transaction, the frames' claims, the rows the handlers
changed through ``ctx.conn`` and a snapshot of ``State``, which holds only each world's game
time. Requests (accept, abandon) change their row in their own transaction (``ctx.transaction``).
Every event the actor emits is written to its outbox in the transaction of the change it
announces and published once that commits, so no committed change loses its event. Every writer reads
the rows it changes with ``FOR UPDATE``, so a request and a batch take turns on a row; and as
the snapshot holds no copy of a row, a batch that rolls back (or a restart that loads an older
snapshot and replays the frames after it) can neither undo a request's change nor apply a
frame twice. ``_active`` only saves database round trips: the players that may have an active
quest (a superset, loaded on start and grown by every acceptance). So does the batch: it reads
and locks the active quests of every player its frames advance in one query at its start, its
handlers work on those rows, and the rows they changed are written in one statement at its end
(or before a clock tick's query of ``quest_state``, which then sees them).

Consumes: ``world.opened``/``closed``, ``clock.tick``, ``player.moved`` (visit),
``player.spoke`` (talk), ``player.collected``, ``player.defeated``. Answers ``quest.accept``,
``quest.abandon``, ``quest.get_journal``. Emits: ``quest.available`` (when a world opens),
``quest.accepted``, ``quest.progressed``, ``quest.completed``, ``quest.failed``, and the
rewards' ``world.flag_set``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from loreweave.actors.base import GameActor
from loreweave.actors.quests.definitions import QuestDefinition
from loreweave.actors.runtime import Context, on, reply
from loreweave.db import QuestRow
from loreweave.db import quests as rows
from loreweave.protocol import Frame, LoreweaveError
from loreweave.schemas import (
    ClockTick,
    Objective,
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
    Rewards,
    WorldClosed,
    WorldFlagSet,
    WorldOpened,
)

_STATES = ("active", "completed", "failed")
#: Events whose handlers advance a player's active quests.
_PROGRESS = frozenset({"player.moved", "player.spoke", "player.collected", "player.defeated"})


@dataclass
class _Batch:
    """The active quest rows of the players a batch names, locked by it, and the rows it changed."""

    active: dict[tuple[str, str], list[QuestRow]]
    changed: dict[tuple[str, str, str], QuestRow] = field(default_factory=dict)


class QuestWorld(BaseModel):
    """A world's game time (its players' quests are rows of ``quest_state``)."""

    game_minutes: int = 0


class QuestsState(BaseModel):
    """What the quests actor snapshots: every world's game time."""

    worlds: dict[str, QuestWorld] = Field(default_factory=dict)


def quest_of(row: QuestRow) -> QuestProgress:
    """A ``quest_state`` row as the quest the events and replies carry."""
    return QuestProgress(
        quest_id=row.quest_id, state=row.state,  # type: ignore[arg-type]  # rows of other states are skipped
        objectives=[Objective.model_validate(o) for o in row.objectives], progress=dict(row.progress),
        accepted_at=row.accepted_at, deadline=row.deadline, failure=row.failure,
    )


def row_of(world: str, player_id: str, quest: QuestProgress) -> QuestRow:
    """A quest as its ``quest_state`` row."""
    return QuestRow(
        world=world, player=player_id, quest_id=quest.quest_id, state=quest.state,
        objectives=[o.model_dump(mode="json") for o in quest.objectives], progress=dict(quest.progress),
        accepted_at=quest.accepted_at, deadline=quest.deadline, failure=quest.failure,
    )


class Quests(GameActor[QuestsState]):
    """Runs the quests defined in ``definitions`` (see :mod:`.definitions` for the files).

    Needs a node with a database (it is a persistent actor).
    """

    name = "quests"
    State = QuestsState

    def __init__(
        self, definitions: Mapping[str, QuestDefinition] | None = None, *, seed: int = 0, heartbeat_s: float = 5.0
    ) -> None:
        super().__init__(QuestsState(), seed=seed, heartbeat_s=heartbeat_s)
        self.definitions = dict(definitions or {})
        #: World -> players who may have an active quest (a superset; see the module docstring).
        self._active: dict[str, set[str]] = {}
        self._batch: _Batch | None = None

    async def batch_started(self, frames: Sequence[Frame], conn: Any) -> None:
        """Read and lock, in one query, the active quests of every player the batch's frames advance."""
        players = sorted({
            (frame.world, frame.payload.player_id) for frame in frames
            if frame.type in _PROGRESS and frame.payload.player_id in self._active.get(frame.world, ())
        })
        self._batch = _Batch(await rows.active_quests_of(conn, players))

    async def batch_ending(self, conn: Any) -> None:
        """Write, in one statement, every row the batch changed."""
        batch, self._batch = self._batch, None
        if batch is not None:
            await rows.save_quests(conn, list(batch.changed.values()))

    async def _active_rows(self, conn: Any, world: str, player_id: str) -> list[QuestRow]:
        batch = self._batch
        if batch is None:
            return await rows.player_quests(conn, world, player_id, active_only=True, lock="update")
        found = batch.active.get((world, player_id))
        if found is None:  # not read at the start, or read again after a tick changed its rows
            found = await rows.player_quests(conn, world, player_id, active_only=True, lock="update")
            batch.active[(world, player_id)] = found
        return found

    async def _save(self, conn: Any, row: QuestRow) -> None:
        batch = self._batch
        if batch is None:
            await rows.save_quest(conn, row)
            return
        batch.changed[(row.world, row.player, row.quest_id)] = row
        key = (row.world, row.player)
        kept = [r for r in batch.active.get(key, ()) if r.quest_id != row.quest_id]
        batch.active[key] = kept + [row] if row.state == "active" else kept

    async def _write_changed(self, conn: Any) -> None:
        """Write the batch's changes now, so a query of ``quest_state`` sees them."""
        if self._batch is not None and self._batch.changed:
            await rows.save_quests(conn, list(self._batch.changed.values()))
            self._batch.changed.clear()

    async def on_start(self) -> None:
        """Learn which players have active quests."""
        self._active = await rows.players_with_active_quests(self.database.pool)

    def _world(self, world: str) -> QuestWorld:
        return self.state.worlds.setdefault(world, QuestWorld())

    def _available(self, quests: Mapping[str, QuestProgress]) -> list[str]:
        done = {qid for qid, q in quests.items() if q.state == "completed"}
        return [
            qid for qid, definition in sorted(self.definitions.items())
            if set(definition.prerequisites) <= done
            and (qid not in quests or (definition.repeatable and quests[qid].state != "active"))
        ]

    @staticmethod
    def _quests(found: list[QuestRow]) -> dict[str, QuestProgress]:
        return {row.quest_id: quest_of(row) for row in found if row.state in _STATES}

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
        """Forget the world's game time (its players' quests stay in the database)."""
        self.state.worlds.pop(ctx.frame.world, None)
        self.forget_world(ctx.frame.world)

    @reply("lw.rpc.*.quest.accept")
    async def accept(self, event: QuestAccept, ctx: Context) -> QuestStatus:
        """Start a quest for a player, or refuse naming why."""
        definition = self.definitions.get(event.quest_id)
        if definition is None:
            raise LoreweaveError("quest_id", f"unknown quest {event.quest_id!r}")
        world = ctx.frame.world
        known = self.state.worlds.get(world)
        now = known.game_minutes if known is not None else 0
        self._active.setdefault(world, set()).add(event.player_id)  # before the row exists: stays a superset
        async with ctx.transaction() as conn:
            await rows.lock_player(conn, world, event.player_id)
            quests = self._quests(await rows.player_quests(conn, world, event.player_id, lock="update"))
            current = quests.get(event.quest_id)
            if current is not None and current.state == "active":
                raise LoreweaveError("quest_id", f"{event.quest_id!r} is already active")
            if current is not None and not definition.repeatable:
                raise LoreweaveError(
                    "quest_id", f"{event.quest_id!r} was already {current.state} and is not repeatable")
            missing = [q for q in definition.prerequisites if q not in quests or quests[q].state != "completed"]
            if missing:
                raise LoreweaveError("quest_id", f"{event.quest_id!r} needs {', '.join(missing)} completed first")
            limit = definition.time_limit_minutes
            quest = QuestProgress(
                quest_id=event.quest_id, state="active", objectives=list(definition.objectives),
                progress={o.id: 0 for o in definition.objectives}, accepted_at=now,
                deadline=now + limit if limit else None,
            )
            await rows.save_quest(conn, row_of(world, event.player_id, quest))
            await ctx.emit(QuestAccepted(
                player_id=event.player_id, quest_id=event.quest_id, giver=definition.giver, deadline=quest.deadline
            ))
        return QuestStatus(player_id=event.player_id, quest=quest)

    @reply("lw.rpc.*.quest.abandon")
    async def abandon(self, event: QuestAbandon, ctx: Context) -> QuestStatus:
        """Fail an active quest with reason ``abandoned``."""
        world = ctx.frame.world
        async with ctx.transaction() as conn:
            await rows.lock_player(conn, world, event.player_id)
            quests = self._quests(await rows.player_quests(conn, world, event.player_id, lock="update"))
            quest = quests.get(event.quest_id)
            if quest is None or quest.state != "active":
                raise LoreweaveError("quest_id", f"{event.quest_id!r} is not active for {event.player_id!r}")
            failed = self._fail(event.player_id, quest, "abandoned")
            await rows.save_quest(conn, row_of(world, event.player_id, quest))
            await ctx.emit(failed)
        return QuestStatus(player_id=event.player_id, quest=quest)

    @reply("lw.rpc.*.quest.get_journal")
    async def journal(self, event: QuestGetJournal, ctx: Context) -> QuestJournal:
        """A player's quests and those they may take now.

        Rows being changed by a batch are read once it commits: whoever saw an event sees its row.
        """
        found = await rows.player_quests(self.database.pool, ctx.frame.world, event.player_id, lock="share")
        quests = self._quests(found)
        return QuestJournal(
            player_id=event.player_id, quests=[q for _, q in sorted(quests.items())], available=self._available(quests)
        )

    def _fail(self, player_id: str, quest: QuestProgress, reason: str) -> QuestFailed:
        """Mark a quest failed; return the event that says so."""
        quest.state, quest.failure = "failed", reason
        definition = self.definitions.get(quest.quest_id)
        return QuestFailed(
            player_id=player_id, quest_id=quest.quest_id, reason=reason,
            giver=definition.giver if definition else None, region=definition.region if definition else None,
        )

    async def _advance(self, ctx: Context, player_id: str, kind: str, target: str, amount: int) -> None:
        world = ctx.frame.world
        if player_id not in self._active.get(world, ()):
            return
        for row in list(await self._active_rows(ctx.conn, world, player_id)):
            if row.state != "active":
                continue
            quest, changed = quest_of(row), False
            for objective in quest.objectives:
                done = quest.progress.get(objective.id, 0)
                if objective.kind != kind or objective.target != target or done >= objective.count:
                    continue
                quest.progress[objective.id] = min(objective.count, done + amount)
                changed = True
                await ctx.emit(QuestProgressed(
                    player_id=player_id, quest_id=quest.quest_id, objective=objective.id,
                    count=quest.progress[objective.id], needed=objective.count,
                ))
            if changed and all(quest.progress.get(o.id, 0) >= o.count for o in quest.objectives):
                await self._complete(ctx, player_id, quest)
            if changed:
                await self._save(ctx.conn, row_of(world, player_id, quest))

    async def _complete(self, ctx: Context, player_id: str, quest: QuestProgress) -> None:
        quest.state = "completed"
        definition = self.definitions.get(quest.quest_id)  # None: its file was removed since it was taken
        rewards = definition.rewards if definition else Rewards()
        await ctx.emit(QuestCompleted(
            player_id=player_id, quest_id=quest.quest_id, giver=definition.giver if definition else None,
            region=definition.region if definition else None, rewards=rewards,
        ))
        for flag, value in sorted(rewards.flags.items()):
            await ctx.emit(WorldFlagSet(flag=flag, value=value, by=player_id))

    @on("lw.*.player.moved")
    async def moved(self, event: PlayerMoved, ctx: Context) -> None:
        """Visiting a region."""
        await self._advance(ctx, event.player_id, "visit", event.region, 1)

    @on("lw.*.player.spoke")
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
        world = ctx.frame.world
        self._world(world).game_minutes = event.game_minutes
        if not self._active.get(world):
            return
        await self._write_changed(ctx.conn)
        for row in await rows.overdue_quests(ctx.conn, world, event.game_minutes):
            quest = quest_of(row)
            failed = self._fail(row.player, quest, "timeout")
            await rows.save_quest(ctx.conn, row_of(world, row.player, quest))
            if self._batch is not None:
                self._batch.active.pop((world, row.player), None)  # read again if a later frame needs it
            await ctx.emit(failed)
