"""Quest rows (``quest_state``): each player's standing in each quest of a world.

The quests actor keeps no other copy of a player's quests: a row is read and locked in the
transaction that changes it (the batch transaction of an event, or a request's own), so two
writers of one row take turns and a rolled-back change leaves nothing behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from loreweave.db.errors import QueryError
from loreweave.db.state import Executor

#: How a read locks the rows it returns (see :func:`player_quests`).
RowLock = Literal["update", "share"]

_COLUMNS = "world, player, quest_id, state, objectives, progress, accepted_at, deadline, failure"


@dataclass(slots=True)
class QuestRow:
    """One player's quest in one world.

    Attributes:
        objectives: the objectives when the quest was taken, as plain mappings
            (``{"id", "kind", "target", "count"}``).
        progress: objective id -> count done.
        accepted_at: game minute the quest was taken.
        deadline: game minute after which an active quest fails (None: no limit).
        failure: why a failed quest failed.
    """

    world: str
    player: str
    quest_id: str
    state: str
    objectives: list[dict[str, Any]] = field(default_factory=list)
    progress: dict[str, int] = field(default_factory=dict)
    accepted_at: int = 0
    deadline: int | None = None
    failure: str | None = None


def _row(record: Any) -> QuestRow:
    return QuestRow(
        world=record["world"], player=record["player"], quest_id=record["quest_id"], state=record["state"],
        objectives=json.loads(record["objectives"]), progress=json.loads(record["progress"]),
        accepted_at=record["accepted_at"], deadline=record["deadline"], failure=record["failure"],
    )


async def lock_player(conn: Executor, world: str, player: str) -> None:
    """Take the transaction-scoped lock of a player's quests (requests of one player take turns).

    Rows are also locked one by one (``lock=True`` below); this lock covers a row that does
    not exist yet, such as a quest being taken for the first time.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('loreweave.quests:' || $1 || '/' || $2, 0))",
                       world, player)


async def player_quests(
    conn: Executor, world: str, player: str, *, active_only: bool = False, lock: RowLock | None = None
) -> list[QuestRow]:
    """A player's quests in a world, by quest id.

    Args:
        active_only: only the active ones.
        lock: ``"update"`` to lock the rows until the transaction ends, ``"share"`` to wait
            for a transaction changing them (a reader who saw an event then sees its row).
    """
    sql = f"SELECT {_COLUMNS} FROM quest_state WHERE world = $1 AND player = $2"
    if active_only:
        sql += " AND state = 'active'"
    sql += " ORDER BY quest_id" + _locking(lock)
    return [_row(record) for record in await conn.fetch(sql, world, player)]


async def overdue_quests(conn: Executor, world: str, game_minutes: int) -> list[QuestRow]:
    """The active quests of a world whose deadline is before ``game_minutes``, locked, by player and quest."""
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM quest_state WHERE world = $1 AND state = 'active'"
        " AND deadline IS NOT NULL AND deadline < $2 ORDER BY player, quest_id FOR UPDATE",
        world, game_minutes,
    )
    return [_row(record) for record in records]


async def save_quest(conn: Executor, row: QuestRow) -> None:
    """Insert or replace one row."""
    await conn.execute(
        f"INSERT INTO quest_state ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9)"
        " ON CONFLICT (world, quest_id, player) DO UPDATE SET state = EXCLUDED.state,"
        " objectives = EXCLUDED.objectives, progress = EXCLUDED.progress, accepted_at = EXCLUDED.accepted_at,"
        " deadline = EXCLUDED.deadline, failure = EXCLUDED.failure, updated_at = now()",
        row.world, row.player, row.quest_id, row.state, json.dumps(row.objectives), json.dumps(row.progress),
        row.accepted_at, row.deadline, row.failure,
    )


async def players_with_active_quests(conn: Executor) -> dict[str, set[str]]:
    """World -> the players with at least one active quest there."""
    found: dict[str, set[str]] = {}
    for record in await conn.fetch("SELECT DISTINCT world, player FROM quest_state WHERE state = 'active'"):
        found.setdefault(record["world"], set()).add(record["player"])
    return found


def _locking(lock: RowLock | None) -> str:
    if lock is None:
        return ""
    if lock not in ("update", "share"):
        raise QueryError("lock", f"must be 'update' or 'share', got {lock!r}")
    return f" FOR {lock.upper()}"
