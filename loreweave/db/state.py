"""Actor state snapshots and the exactly-once claim of processed frames.

A handler makes its effects exactly-once by claiming the frame in the same
transaction as its state change::

    async with store.transaction() as conn:
        if not await claim_frame(conn, "weather", frame.id):
            return  # applied before: a redelivery after a crash or a lost ack
        state = apply(state, frame)
        await store.save_snapshot("weather", encode(state), stream_seq, conn=conn)

If the transaction rolls back, neither the state nor the claim is kept, so the
redelivered frame is applied once more, and only once.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import AsyncIterator, TypeAlias

import asyncpg

from loreweave.db.errors import QueryError

#: Type of anything that runs queries: a pool, or a connection (possibly in a transaction).
Executor: TypeAlias = asyncpg.Pool | asyncpg.Connection | asyncpg.pool.PoolConnectionProxy


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The saved state of one actor (and key).

    Attributes:
        actor: the actor's name.
        key: the key of a keyed actor, ``""`` for a singleton.
        state: the serialised state (msgpack, written by the runtime).
        stream_seq: last JetStream stream sequence whose effects ``state`` includes.
        updated_at: when it was saved.
    """

    actor: str
    key: str
    state: bytes
    stream_seq: int
    updated_at: datetime


def _row_count(status: str) -> int:
    """Rows touched, from a command status such as ``INSERT 0 1`` or ``DELETE 3``."""
    return int(status.rsplit(" ", 1)[-1])


async def claim_frame(conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, actor: str, frame_id: str) -> bool:
    """Record that ``actor`` applies ``frame_id``; False if it was applied before.

    Must run inside the transaction that applies the frame's effects, so the claim
    commits or rolls back together with them.

    Raises:
        QueryError: when ``conn`` is not in a transaction.
    """
    if not conn.is_in_transaction():
        raise QueryError(
            "claim_frame", "must run inside the transaction that applies the frame's effects"
        )
    status = await conn.execute(
        "INSERT INTO processed_frames (actor, frame_id) VALUES ($1, $2)"
        " ON CONFLICT (actor, frame_id) DO NOTHING",
        actor,
        frame_id,
    )
    return _row_count(status) == 1


async def claim_frames(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy, actor: str, frame_ids: list[str]
) -> set[str]:
    """Claim many frames at once, in one statement; return the ids that were not claimed before.

    Same contract as :func:`claim_frame`: run it inside the transaction that applies them.

    Raises:
        QueryError: when ``conn`` is not in a transaction.
    """
    if not conn.is_in_transaction():
        raise QueryError(
            "claim_frames", "must run inside the transaction that applies the frames' effects"
        )
    rows = await conn.fetch(
        "INSERT INTO processed_frames (actor, frame_id) SELECT $1, unnest($2::text[])"
        " ON CONFLICT (actor, frame_id) DO NOTHING RETURNING frame_id",
        actor,
        frame_ids,
    )
    return {row["frame_id"] for row in rows}


class StateStore:
    """Snapshots of actor state and processed-frame claims, over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection inside a transaction: committed on exit, rolled back on an exception."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                yield conn

    async def claim_frame(self, conn: asyncpg.Connection, actor: str, frame_id: str) -> bool:
        """Same as :func:`claim_frame`."""
        return await claim_frame(conn, actor, frame_id)

    async def is_processed(self, actor: str, frame_id: str, *, conn: Executor | None = None) -> bool:
        """Whether ``actor`` has a committed claim on ``frame_id`` (a read; claims need :func:`claim_frame`)."""
        found = await (conn or self.pool).fetchval(
            "SELECT true FROM processed_frames WHERE actor = $1 AND frame_id = $2", actor, frame_id
        )
        return bool(found)

    async def load_snapshot(self, actor: str, key: str = "", *, conn: Executor | None = None) -> Snapshot | None:
        """The saved state of ``actor`` (and ``key``), or None if none was saved."""
        row = await (conn or self.pool).fetchrow(
            "SELECT actor, key, state, stream_seq, updated_at FROM actor_snapshots"
            " WHERE actor = $1 AND key = $2",
            actor,
            key,
        )
        if row is None:
            return None
        return Snapshot(row["actor"], row["key"], bytes(row["state"]), row["stream_seq"], row["updated_at"])

    async def save_snapshot(
        self,
        actor: str,
        state: bytes,
        stream_seq: int,
        key: str = "",
        *,
        conn: Executor | None = None,
    ) -> bool:
        """Save the state of ``actor`` (and ``key``) as of stream sequence ``stream_seq``.

        A snapshot never goes back: one older than the saved one (lower ``stream_seq``)
        is ignored and False is returned, so a slow writer cannot undo a newer state.

        Raises:
            QueryError: ``stream_seq`` is negative.
        """
        if stream_seq < 0:
            raise QueryError("stream_seq", f"must be >= 0, got {stream_seq}")
        status = await (conn or self.pool).execute(
            "INSERT INTO actor_snapshots (actor, key, state, stream_seq) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (actor, key) DO UPDATE"
            " SET state = EXCLUDED.state, stream_seq = EXCLUDED.stream_seq, updated_at = now()"
            " WHERE actor_snapshots.stream_seq <= EXCLUDED.stream_seq",
            actor,
            key,
            bytes(state),
            stream_seq,
        )
        return _row_count(status) == 1

    async def load_keyed_snapshots(self, actors: list[str], *, conn: Executor | None = None) -> list[Snapshot]:
        """Every keyed snapshot (``key`` not empty) of the named actors: world placement's per-world states."""
        rows = await (conn or self.pool).fetch(
            "SELECT actor, key, state, stream_seq, updated_at FROM actor_snapshots"
            " WHERE actor = ANY($1::text[]) AND key <> ''",
            actors,
        )
        return [Snapshot(r["actor"], r["key"], bytes(r["state"]), r["stream_seq"], r["updated_at"]) for r in rows]

    async def save_keyed_snapshots(self, rows: list[tuple[str, str, bytes]], *, conn: Executor | None = None) -> None:
        """Save many ``(actor, key, state)`` snapshots at once (keys not empty; no stream sequence)."""
        if any(not key for _, key, _ in rows):
            raise QueryError("key", "keyed snapshots need a non-empty key")
        await (conn or self.pool).executemany(
            "INSERT INTO actor_snapshots (actor, key, state, stream_seq) VALUES ($1, $2, $3, 0)"
            " ON CONFLICT (actor, key) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            rows,
        )

    async def delete_snapshot(self, actor: str, key: str = "", *, conn: Executor | None = None) -> bool:
        """Forget the state of ``actor`` (and ``key``); False if there was none."""
        status = await (conn or self.pool).execute(
            "DELETE FROM actor_snapshots WHERE actor = $1 AND key = $2", actor, key
        )
        return _row_count(status) == 1

    async def prune_processed(
        self,
        *,
        older_than: timedelta | None = None,
        keep_per_actor: int | None = None,
        actor: str | None = None,
    ) -> int:
        """Forget old frame claims; return how many were deleted.

        A claim is only needed while its frame can still be redelivered: prune by age
        with ``older_than`` longer than the consumer's redelivery horizon (ack wait ×
        max deliveries) and the stream's duplicate window, or keep the newest
        ``keep_per_actor`` claims of each actor. Both may be given; ``actor`` limits
        pruning to one actor.

        Raises:
            QueryError: neither rule given, or a negative one.
        """
        if older_than is None and keep_per_actor is None:
            raise QueryError("prune_processed", "give older_than, keep_per_actor or both")
        deleted = 0
        if older_than is not None:
            if older_than < timedelta(0):
                raise QueryError("older_than", f"must not be negative, got {older_than}")
            status = await self.pool.execute(
                "DELETE FROM processed_frames WHERE processed_at < now() - $1::interval"
                " AND ($2::text IS NULL OR actor = $2)",
                older_than,
                actor,
            )
            deleted += _row_count(status)
        if keep_per_actor is not None:
            if keep_per_actor < 0:
                raise QueryError("keep_per_actor", f"must be >= 0, got {keep_per_actor}")
            status = await self.pool.execute(
                """
                DELETE FROM processed_frames p USING (
                    SELECT actor, frame_id FROM (
                        SELECT actor, frame_id, row_number() OVER (
                            PARTITION BY actor ORDER BY processed_at DESC, frame_id DESC
                        ) AS newest
                        FROM processed_frames WHERE $2::text IS NULL OR actor = $2
                    ) ranked WHERE newest > $1
                ) old
                WHERE p.actor = old.actor AND p.frame_id = old.frame_id
                """,
                keep_per_actor,
                actor,
            )
            deleted += _row_count(status)
        return deleted
