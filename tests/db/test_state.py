"""Snapshots and exactly-once frame claims."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import msgpack
import pytest

from loreweave.db import QueryError, StateStore, claim_frame
from loreweave.protocol.ids import new_frame_id


async def test_snapshot_round_trip(store: StateStore) -> None:
    state = msgpack.packb({"temperature": 12.5, "raining": True, "blob": b"\x00\xff"})

    assert await store.load_snapshot("weather") is None
    assert await store.save_snapshot("weather", state, stream_seq=42)
    snapshot = await store.load_snapshot("weather")

    assert snapshot is not None
    assert (snapshot.actor, snapshot.key, snapshot.state, snapshot.stream_seq) == ("weather", "", state, 42)
    assert msgpack.unpackb(snapshot.state) == {"temperature": 12.5, "raining": True, "blob": b"\x00\xff"}
    assert snapshot.updated_at.tzinfo is not None


async def test_keys_of_an_actor_are_separate(store: StateStore) -> None:
    await store.save_snapshot("npc", b"alice", 1, key="alice")
    await store.save_snapshot("npc", b"bob", 2, key="bob")

    alice, bob = await store.load_snapshot("npc", "alice"), await store.load_snapshot("npc", "bob")
    assert alice is not None and alice.state == b"alice"
    assert bob is not None and bob.state == b"bob"
    assert await store.load_snapshot("npc") is None


async def test_a_snapshot_never_goes_back(store: StateStore) -> None:
    assert await store.save_snapshot("clock", b"new", 10)
    assert not await store.save_snapshot("clock", b"old", 9)
    assert await store.save_snapshot("clock", b"newer", 11)

    snapshot = await store.load_snapshot("clock")
    assert snapshot is not None and (snapshot.state, snapshot.stream_seq) == (b"newer", 11)
    with pytest.raises(QueryError):
        await store.save_snapshot("clock", b"x", -1)


async def test_a_frame_is_claimed_once(store: StateStore) -> None:
    frame_id = new_frame_id()
    async with store.transaction() as conn:
        assert await claim_frame(conn, "weather", frame_id)
    async with store.transaction() as conn:
        assert not await claim_frame(conn, "weather", frame_id)
        # Another actor handles the same frame independently.
        assert await store.claim_frame(conn, "clock", frame_id)


async def test_a_rolled_back_transaction_leaves_the_frame_unclaimed(store: StateStore) -> None:
    frame_id = new_frame_id()
    await store.save_snapshot("weather", b"before", 1)

    with pytest.raises(RuntimeError):
        async with store.transaction() as conn:
            assert await claim_frame(conn, "weather", frame_id)
            await store.save_snapshot("weather", b"after", 2, conn=conn)
            raise RuntimeError("handler crashed before commit")

    assert not await store.is_processed("weather", frame_id)
    snapshot = await store.load_snapshot("weather")
    assert snapshot is not None and snapshot.state == b"before"
    async with store.transaction() as conn:
        assert await claim_frame(conn, "weather", frame_id), "the redelivery is applied"


async def test_a_claim_needs_a_transaction(store: StateStore) -> None:
    async with store.pool.acquire() as conn:
        with pytest.raises(QueryError):
            await claim_frame(conn, "weather", new_frame_id())


async def test_concurrent_claims_of_one_frame_let_one_win(store: StateStore) -> None:
    frame_id = new_frame_id()

    async def handle() -> bool:
        async with store.transaction() as conn:
            claimed = await claim_frame(conn, "weather", frame_id)
            await asyncio.sleep(0.2)  # hold the transaction open while the other tries
            return claimed

    assert sorted(await asyncio.gather(handle(), handle())) == [False, True]


async def test_pruning_by_age_and_by_count(store: StateStore, pool: asyncpg.Pool) -> None:
    old, recent = [new_frame_id() for _ in range(3)], [new_frame_id() for _ in range(4)]
    async with store.transaction() as conn:
        for frame_id in old + recent:
            await claim_frame(conn, "a", frame_id)
        for index, frame_id in enumerate(recent):
            await claim_frame(conn, "b", frame_id)
            await conn.execute(
                "UPDATE processed_frames SET processed_at = now() - make_interval(secs => $1)"
                " WHERE actor = 'b' AND frame_id = $2",
                float(10 - index), frame_id,
            )
        await conn.execute(
            "UPDATE processed_frames SET processed_at = now() - interval '2 days' WHERE frame_id = ANY($1)", old
        )

    assert await store.prune_processed(older_than=timedelta(days=1)) == 3
    assert not await store.is_processed("a", old[0]) and await store.is_processed("a", recent[0])

    assert await store.prune_processed(keep_per_actor=2, actor="b") == 2
    kept = await pool.fetch("SELECT frame_id FROM processed_frames WHERE actor = 'b' ORDER BY frame_id")
    assert [r["frame_id"] for r in kept] == recent[2:]
    assert await pool.fetchval("SELECT count(*) FROM processed_frames WHERE actor = 'a'") == 4

    with pytest.raises(QueryError):
        await store.prune_processed()
