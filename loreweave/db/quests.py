"""Quest rows (``quest_state``): each player's standing in each quest of a world.

The quests actor keeps no other copy of a player's quests: a row is read and locked in the
transaction that changes it (the batch transaction of an event, or a request's own), so two
writers of one row take turns and a rolled-back change leaves nothing behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from loreweave.db.errors import QueryError
from loreweave.db.state import Executor

#: How a read locks the rows it returns (see :func:`player_quests`).
RowLock = Literal["update", "share"]

_COLUMNS = "world, player, quest_id, state, objectives, progress, accepted_at, deadline, failure"
_QUALIFIED = ", ".join(f"q.{column}" for column in _COLUMNS.split(", "))
_REPLACE = (
    "state = EXCLUDED.state, objectives = EXCLUDED.objectives, progress = EXCLUDED.progress,"
    " accepted_at = EXCLUDED.accepted_at, deadline = EXCLUDED.deadline, failure = EXCLUDED.failure, updated_at = now()"
)


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


async def active_quests_of(
    conn: Executor, players: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[QuestRow]]:
    """The active quests of many ``(world, player)`` pairs in one query, locked (``FOR UPDATE``).

    Every pair asked for has an entry (an empty list when it has no active quest); rows are
    locked in ``(world, player, quest_id)`` order, as every other writer locks them.
    """
    found: dict[tuple[str, str], list[QuestRow]] = {pair: [] for pair in players}
    if not found:
        return found
    records = await conn.fetch(
        f"SELECT {_QUALIFIED} FROM quest_state q"
        " JOIN unnest($1::text[], $2::text[]) AS p(world, player) ON q.world = p.world AND q.player = p.player"
        " WHERE q.state = 'active' ORDER BY q.world, q.player, q.quest_id FOR UPDATE OF q",
        [world for world, _ in found], [player for _, player in found],
    )
    for record in records:
        found[(record["world"], record["player"])].append(_row(record))
    return found


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
        f" ON CONFLICT (world, quest_id, player) DO UPDATE SET {_REPLACE}",
        row.world, row.player, row.quest_id, row.state, json.dumps(row.objectives), json.dumps(row.progress),
        row.accepted_at, row.deadline, row.failure,
    )


async def save_quests(conn: Executor, quests: Sequence[QuestRow]) -> None:
    """Insert or replace many rows in one statement (at most one row per world, player and quest)."""
    if not quests:
        return
    await conn.execute(
        f"INSERT INTO quest_state ({_COLUMNS})"
        " SELECT u.world, u.player, u.quest_id, u.state, u.objectives::jsonb, u.progress::jsonb, u.accepted_at,"
        " u.deadline, u.failure FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],"
        " $6::text[], $7::int[], $8::int[], $9::text[])"
        " AS u(world, player, quest_id, state, objectives, progress, accepted_at, deadline, failure)"
        f" ON CONFLICT (world, quest_id, player) DO UPDATE SET {_REPLACE}",
        [q.world for q in quests], [q.player for q in quests], [q.quest_id for q in quests],
        [q.state for q in quests], [json.dumps(q.objectives) for q in quests], [json.dumps(q.progress) for q in quests],
        [q.accepted_at for q in quests], [q.deadline for q in quests], [q.failure for q in quests],
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
