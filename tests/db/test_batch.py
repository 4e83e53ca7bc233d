"""A persistent actor's batch commit in one statement: claims, outbox, snapshot and fence."""

from __future__ import annotations

import asyncpg
import pytest

from loreweave.db import OutboxFrame, QueryError, StaleLeaseError, StateStore, check_fence, stage_frames
from loreweave.db.batch import commit_batch
from loreweave.protocol.ids import new_frame_id


def outbox_rows(count: int) -> list[OutboxFrame]:
    return [OutboxFrame(new_frame_id(), "lw.w1.npc.said", bytes([i]), {"Nats-Msg-Id": str(i)}) for i in range(count)]


async def test_a_batch_commits_claims_outbox_and_snapshot_in_one_statement(pool: asyncpg.Pool) -> None:
    ids = [new_frame_id() for _ in range(3)]
    earlier = outbox_rows(2)
    async with pool.acquire() as conn:
        with pytest.raises(QueryError, match="inside the transaction"):
            await commit_batch(conn, "quests", state=b"s", stream_seq=1)
        async with conn.transaction():
            await stage_frames(conn, "quests", earlier)
        emitted = outbox_rows(2)
        async with conn.transaction():
            found = await commit_batch(conn, "quests", state=b"s1", stream_seq=10, claims=ids[:2], outbox=emitted,
                                       sent=[earlier[0].frame_id])
        assert (found.claimed, found.token) == (2, None)
        async with conn.transaction():  # one frame claimed before; an older snapshot does not replace a newer one
            found = await commit_batch(conn, "quests", state=b"old", stream_seq=9, claims=ids[1:])
        assert found.claimed == 1
    outbox = [r["frame_id"] for r in await pool.fetch("SELECT frame_id FROM frame_outbox WHERE actor = 'quests' ORDER BY seq")]
    assert outbox == [earlier[1].frame_id] + [row.frame_id for row in emitted]
    snapshot = await StateStore(pool).load_snapshot("quests")
    assert snapshot is not None and (snapshot.state, snapshot.stream_seq) == (b"s1", 10)
    assert await pool.fetchval("SELECT count(*) FROM processed_frames WHERE actor = 'quests'") == 3


async def test_a_batch_reads_its_partitions_fence_under_a_shared_lock(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        async with conn.transaction():
            await check_fence(conn, 7, 4, bucket="B")
        async with conn.transaction():
            found = await commit_batch(conn, "journal", state=b"", stream_seq=1, fence=("B", 7))
            held = await pool.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " WHERE c.relname = 'partition_fences' AND l.pid = $1", conn.get_server_pid())
        assert found.token == 4 and held >= 1
        async with conn.transaction():
            assert (await commit_batch(conn, "journal", state=b"", stream_seq=2, fence=("B", 8))).token is None


async def test_a_raised_fence_is_checked_with_one_read_and_still_refuses_a_newer_owner(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        async with conn.transaction():
            await check_fence(conn, 2, 5, bucket="B")
        async with conn.transaction():
            await check_fence(conn, 2, 5, bucket="B", raised=True)
        async with conn.transaction():
            await check_fence(conn, 2, 6, bucket="B")  # a new owner
        with pytest.raises(StaleLeaseError, match="lease token 5 is stale: token 6"):
            async with conn.transaction():
                await check_fence(conn, 2, 5, bucket="B", raised=True)
