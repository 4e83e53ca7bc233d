"""The event journal: every journaled frame, appended idempotently and queried by world and time."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

import asyncpg

from loreweave.db.errors import DatabaseError, QueryError
from loreweave.db.state import Executor, _row_count
from loreweave.protocol.frame import Frame
from loreweave.protocol.subjects import check_world

#: Most entries one query returns.
MAX_QUERY_LIMIT = 10_000

_COLUMNS = "frame_id, world, type, ts, source, correlation_id, causation_id, payload::text AS payload"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled frame.

    Attributes:
        frame_id: the frame's ULID (the journal's key).
        world: the world it belongs to.
        type: event type, ``npc.said``.
        ts: emission time (timezone-aware, UTC).
        source: who emitted it.
        correlation_id: first frame of its conversation.
        causation_id: frame whose handling emitted it, if any.
        payload: the event's fields as JSON values (bytes become base64 text).
    """

    frame_id: str
    world: str
    type: str
    ts: datetime
    source: str = ""
    correlation_id: str = ""
    causation_id: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_frame(cls, frame: Frame) -> JournalEntry:
        """The entry of a frame; a typed payload is stored as its wire form."""
        payload = frame.payload
        if hasattr(payload, "to_wire"):
            payload = payload.to_wire()
        return cls(
            frame_id=frame.id,
            world=frame.world,
            type=frame.type,
            ts=datetime.fromtimestamp(frame.ts / 1_000_000, tz=timezone.utc),
            source=frame.source,
            correlation_id=frame.correlation_id or frame.id,
            causation_id=frame.causation_id,
            payload=dict(payload) if isinstance(payload, Mapping) else {"value": payload},
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _without_nul(value: Any) -> Any:
    # jsonb refuses U+0000; a chat line from a game client may carry one.
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_nul(v) for v in value]
    return value


def encode_payload(entry: JournalEntry) -> str:
    """The payload as JSON text that jsonb accepts.

    Raises:
        QueryError: a value cannot be represented in JSON.
    """
    try:
        text = json.dumps(entry.payload, default=_json_default, ensure_ascii=False, separators=(",", ":"))
        if "\\u0000" in text or "\x00" in text:
            text = json.dumps(
                _without_nul(entry.payload), default=_json_default, ensure_ascii=False, separators=(",", ":")
            )
    except (TypeError, ValueError) as exc:
        raise QueryError(f"payload of frame {entry.frame_id}", str(exc)) from None
    return text


def _aware(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        raise QueryError(name, f"must be a datetime, got {moment!r}")
    # A naive time is read as UTC: the journal's times are UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _entry(row: asyncpg.Record) -> JournalEntry:
    return JournalEntry(
        frame_id=row["frame_id"],
        world=row["world"],
        type=row["type"],
        ts=row["ts"],
        source=row["source"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        payload=json.loads(row["payload"]),
    )


def _missing_table(exc: asyncpg.UndefinedTableError) -> DatabaseError:
    return DatabaseError("event_journal", f"{exc}: run `loreweave db migrate` first")


class Journal:
    """Appends frames to ``event_journal`` and reads them back.

    Works over a pool or a single connection; ``conn=`` on a call runs it on that
    connection instead (to append within a caller's transaction).
    """

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def append(self, entry: JournalEntry | Frame, *, conn: Executor | None = None) -> bool:
        """Journal one frame; False if a frame with this id was journaled before (it is left as is)."""
        return await self.append_many([entry], conn=conn) == 1

    async def append_many(
        self, entries: Iterable[JournalEntry | Frame], *, conn: Executor | None = None
    ) -> int:
        """Journal frames in one statement; return how many were new (known ids are skipped)."""
        rows = [e if isinstance(e, JournalEntry) else JournalEntry.from_frame(e) for e in entries]
        if not rows:
            return 0
        try:
            status = await (conn or self.executor).execute(
                """
                INSERT INTO event_journal
                    (frame_id, world, type, ts, source, correlation_id, causation_id, payload)
                SELECT f, w, t, ts, s, c, ca, p::jsonb
                FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                            $5::text[], $6::text[], $7::text[], $8::text[]) AS u(f, w, t, ts, s, c, ca, p)
                ON CONFLICT (frame_id) DO NOTHING
                """,
                [r.frame_id for r in rows],
                [r.world for r in rows],
                [r.type for r in rows],
                [_aware(r.ts, "ts") for r in rows],
                [r.source for r in rows],
                [r.correlation_id or r.frame_id for r in rows],
                [r.causation_id for r in rows],
                [encode_payload(r) for r in rows],
            )
        except asyncpg.UndefinedTableError as exc:
            raise _missing_table(exc) from None
        except asyncpg.CheckViolationError as exc:
            raise QueryError("frame_id", f"must be a 26-character ULID ({exc})") from None
        return _row_count(status)

    async def get(self, frame_id: str, *, conn: Executor | None = None) -> JournalEntry | None:
        """The journaled frame with this id, or None."""
        try:
            row = await (conn or self.executor).fetchrow(
                f"SELECT {_COLUMNS} FROM event_journal WHERE frame_id = $1", frame_id
            )
        except asyncpg.UndefinedTableError as exc:
            raise _missing_table(exc) from None
        return None if row is None else _entry(row)

    async def query(
        self,
        world: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        types: Sequence[str] | None = None,
        correlation_id: str | None = None,
        limit: int = 100,
        latest: bool = False,
        conn: Executor | None = None,
    ) -> list[JournalEntry]:
        """Frames of ``world`` in time order (ties by frame id), filtered.

        Args:
            world: the world id.
            since: first time included (naive times are UTC).
            until: first time excluded.
            types: keep only these event types.
            correlation_id: keep only this conversation.
            limit: most entries returned (1 to 10,000).
            latest: return the *last* ``limit`` matching entries (still oldest first)
                instead of the first ones.

        Raises:
            SubjectError: ``world`` is not a world id.
            QueryError: a bad limit, time or type filter.
        """
        check_world(world)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_QUERY_LIMIT:
            raise QueryError("limit", f"must be between 1 and {MAX_QUERY_LIMIT}, got {limit!r}")
        if types is not None and (isinstance(types, str) or not all(isinstance(t, str) and t for t in types)):
            raise QueryError("types", f"must be a list of event types, got {types!r}")
        since, until = _aware(since, "since"), _aware(until, "until")
        conditions: list[str] = ["world = $1"]
        params: list[Any] = [world]

        def add(condition: str, value: Any) -> None:
            params.append(value)
            conditions.append(condition.format(f"${len(params)}"))

        if since is not None:
            add("ts >= {}", since)
        if until is not None:
            add("ts < {}", until)
        if types:
            add("type = ANY({}::text[])", list(types))
        if correlation_id is not None:
            add("correlation_id = {}", correlation_id)
        order = "DESC" if latest else "ASC"
        params.append(limit)
        sql = (
            f"SELECT {_COLUMNS} FROM event_journal WHERE {' AND '.join(conditions)}"
            f" ORDER BY ts {order}, frame_id {order} LIMIT ${len(params)}"
        )
        try:
            rows = await (conn or self.executor).fetch(sql, *params)
        except asyncpg.UndefinedTableError as exc:
            raise _missing_table(exc) from None
        entries = [_entry(row) for row in rows]
        return entries[::-1] if latest else entries
