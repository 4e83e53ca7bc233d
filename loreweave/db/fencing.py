"""Fencing tokens: the database refuses a commit made under a lease that a newer owner holds.

Placement gives each owner of a partition a token (the lease's KV revision at acquisition;
a later owner always has a larger one). Every transaction that commits effects under a lease
calls :func:`check_fence` first, with the token the work was *started* under::

    async with store.transaction() as conn:
        await check_fence(conn, partition, token)   # raises StaleLeaseError if superseded
        ... effects, claims, outbox ...

A new owner calls it once, in a transaction of its own, as soon as it acquires the lease
and before it loads any state: from that commit on, every transaction of the old owner is
refused, and the ones already running finish before it (the new owner's update waits for
their row locks), so the state it then reads includes them.

Concurrent commits under the same token share the row (``FOR SHARE``) and do not wait for
each other; only a change of owner takes the row exclusively.
"""

from __future__ import annotations

import asyncpg

from loreweave.db.errors import QueryError
from loreweave.protocol.errors import LoreweaveError

#: Lease bucket whose tokens are checked unless told otherwise (placement's default bucket).
DEFAULT_FENCE_BUCKET = "LW_PLACEMENT"

Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
Executor = asyncpg.Pool | Connection


class StaleLeaseError(LoreweaveError):
    """A commit carried a lease token older than one that already committed for the partition.

    The caller lost its lease (it was paused, partitioned or too slow to renew) and another
    node owns the partition now: roll back, stop handling the partition, and let the frames
    be redelivered to the owner.
    """

    def __init__(self, partition: int, token: int, current: int, bucket: str = DEFAULT_FENCE_BUCKET) -> None:
        self.partition = partition
        self.token = token
        self.current = current
        self.bucket = bucket
        super().__init__(
            f"partition {partition}",
            f"lease token {token} is stale: token {current} of a newer owner already committed ({bucket})",
        )


async def check_fence(
    conn: Connection, partition: int, token: int, *, bucket: str = DEFAULT_FENCE_BUCKET, raised: bool = False
) -> None:
    """Admit a commit under ``token`` for ``partition``, recording the token if it is the newest.

    Must run inside the transaction whose commit it guards: the row lock it takes is held
    until that transaction ends. ``raised`` says an earlier, committed check recorded ``token``
    (as a new owner's first check does): then one shared read decides, in one round trip.

    Raises:
        StaleLeaseError: a larger token has committed for this partition.
        QueryError: ``conn`` is not in a transaction, or the partition or token is out of range.
    """
    if not conn.is_in_transaction():
        raise QueryError("check_fence", "must run inside the transaction whose commit it guards")
    if partition < 0 or token <= 0:
        raise QueryError("check_fence", f"partition must be >= 0 and token > 0, got {partition} and {token}")
    key = (bucket, partition)
    if raised:
        current = await conn.fetchval(_READ + " FOR SHARE", *key)
        if current == token:
            return
        if current is not None and current > token:
            raise StaleLeaseError(partition, token, current, bucket)
        # Lower than ours: the row was reset since. Take the full path (it raises the row again).
    current = await conn.fetchval(_READ, *key)
    if current == token:
        # The same owner committing again: a shared lock, so its commits run in parallel. Read
        # again under the lock: a new owner may have committed since the first read.
        current = await conn.fetchval(_READ + " FOR SHARE", *key)
        if current == token:
            return
    elif current is None or current < token:
        # A new owner: raise the row, exclusively. Checked before locking, so a transaction
        # never upgrades a share lock it holds (two doing that at once would deadlock).
        if await conn.fetchval(_RAISE, *key, token) is not None:
            return
        current = await conn.fetchval(_READ, *key)
    raise StaleLeaseError(partition, token, current, bucket)


async def fence_of(conn: Executor, partition: int, *, bucket: str = DEFAULT_FENCE_BUCKET) -> int | None:
    """The newest token that committed for ``partition``, or None before any."""
    return await conn.fetchval(_READ, bucket, partition)


async def reset_fences(conn: Executor, *, bucket: str = DEFAULT_FENCE_BUCKET) -> int:
    """Forget every token of ``bucket``; return how many rows went.

    Only for a lease bucket that was deleted and created again: its revisions (the tokens)
    start from 1 again, and every commit would be refused as stale. Run it with no node running.
    """
    status = await conn.execute("DELETE FROM partition_fences WHERE lease_bucket = $1", bucket)
    return int(status.rsplit(" ", 1)[-1])


_READ = "SELECT token FROM partition_fences WHERE lease_bucket = $1 AND partition_id = $2"
# ON CONFLICT locks the row even when the WHERE leaves it unchanged; RETURNING is empty then.
_RAISE = (
    "INSERT INTO partition_fences (lease_bucket, partition_id, token) VALUES ($1, $2, $3)"
    " ON CONFLICT (lease_bucket, partition_id) DO UPDATE SET token = EXCLUDED.token, updated_at = now()"
    " WHERE partition_fences.token <= EXCLUDED.token RETURNING token"
)
