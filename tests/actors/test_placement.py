"""Placement over a real NATS and PostgreSQL: one owner per partition while nodes join, leave, die and pause."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import asyncpg
import nats
import pytest

from loreweave.actors.runtime.placement import (
    Placement,
    PlacementSettings,
    fair_shares,
    partition_of,
    partition_of_subject,
    plan,
    world_of_subject,
)
from loreweave.db import Database, QueryError, StaleLeaseError, check_fence, fence_of
from loreweave.protocol.errors import ConfigError
from loreweave.testing import eventually

TTL = 1.0
RENEW = 0.25


# -- pure parts ---------------------------------------------------------------------------------


def test_partition_of_is_stable_and_spreads_worlds() -> None:
    assert partition_of("w1", 64) == 5  # FNV-1a, as NATS's partition(): the same in every process and language
    counts = collections.Counter(partition_of(f"world-{i}", 64) for i in range(6400))
    assert len(counts) == 64 and max(counts.values()) < 2 * min(counts.values())


@pytest.mark.parametrize(
    ("subject", "world"),
    [
        ("lw.w1.npc.spawned", "w1"),
        ("lw.rpc.w1.world.query", "w1"),
        ("lw.w1", "w1"),
        ("lw.dlq.malformed", None),
        ("lw.sys.heartbeat.actor.x", None),
        ("lw.ai.chat", None),
        ("other.w1.a.b", None),
        ("lw.", None),
    ],
)
def test_world_of_subject(subject: str, world: str | None) -> None:
    assert world_of_subject(subject) == world
    assert partition_of_subject(subject, 64) == (None if world is None else partition_of(world, 64))


def test_fair_shares_sum_and_are_deterministic() -> None:
    assert sorted(fair_shares(["c", "a", "b"], 64).values()) == [21, 21, 22]
    assert fair_shares(["c", "a", "b"], 64) == fair_shares(["b", "c", "a"], 64)
    for members in range(1, 70):
        assert sum(fair_shares([f"n{i}" for i in range(members)], 64).values()) == 64
    settled = plan("a", {"a", "b"}, 4, held={0, 1}, owners={0: "a", 1: "a", 2: "b", 3: "b"})
    assert (settled.target, settled.acquire, settled.release) == (2, (), ())
    joining = plan("c", {"a", "b", "c"}, 6, held=set(), owners={p: "a" for p in range(6)})
    assert joining.target == 2 and joining.acquire == ()  # nothing free: wait for releases


def test_settings_refuse_what_the_server_cannot_honour() -> None:
    with pytest.raises(ConfigError, match="whole number of seconds"):
        PlacementSettings(lease_ttl=1.5)  # nats-server would truncate it to 1 s
    with pytest.raises(ConfigError, match="renew_interval"):
        PlacementSettings(lease_ttl=3, renew_interval=2)
    with pytest.raises(ConfigError, match="partitions"):
        PlacementSettings(partitions=0)
    assert PlacementSettings().renew_every == pytest.approx(10 / 3)


# -- nodes in this process ----------------------------------------------------------------------


@pytest.fixture
def settings() -> PlacementSettings:
    """Buckets no other test uses, a 1 s TTL and renewals every 250 ms."""
    suffix = uuid.uuid4().hex[:10].upper()
    return PlacementSettings(
        lease_ttl=TTL, renew_interval=RENEW, lease_bucket=f"LWP_{suffix}", node_bucket=f"LWN_{suffix}"
    )


class Cluster:
    """Placements on their own NATS connections, and an invariant checked every few milliseconds."""

    def __init__(self, url: str, settings: PlacementSettings) -> None:
        self.url = url
        self.settings = settings
        self.nodes: list[Placement] = []
        self.connections: dict[str, nats.aio.client.Client] = {}
        self.violations: list[str] = []
        self._checker = asyncio.create_task(self._check())

    async def start(self, **options: Any) -> Placement:
        nc = await nats.connect(self.url, name="placement-test")
        node = Placement(nc.jetstream(), settings=options.pop("settings", self.settings), **options)
        self.connections[node.node_id] = nc
        self.nodes.append(node)
        await node.start()
        return node

    def live(self) -> list[Placement]:
        return [node for node in self.nodes if not self.connections[node.node_id].is_closed]

    def counts(self, nodes: list[Placement] | None = None) -> list[int]:
        return sorted(len(node.owned) for node in (self.live() if nodes is None else nodes))

    def owned_exactly_once(self, nodes: list[Placement]) -> bool:
        seen = [p for node in nodes for p in node.owned]
        return sorted(seen) == list(range(self.settings.partitions))

    async def _check(self) -> None:
        # At every instant a partition is owned by at most one node (exactly one once settled).
        while True:
            owners: dict[int, list[str]] = collections.defaultdict(list)
            for node in self.nodes:
                for partition in node.owned:
                    owners[partition].append(node.node_id)
            self.violations += [f"partition {p}: {ids}" for p, ids in owners.items() if len(ids) > 1]
            await asyncio.sleep(0.005)

    async def close(self) -> None:
        self._checker.cancel()
        await asyncio.gather(*(node.stop() for node in self.nodes), return_exceptions=True)
        for nc in self.connections.values():
            if not nc.is_closed:
                await nc.close()


@pytest.fixture
async def cluster(nats_server_url: str, settings: PlacementSettings) -> AsyncIterator[Cluster]:
    made = Cluster(nats_server_url, settings)
    yield made
    await made.close()
    assert made.violations == [], made.violations[:5]


async def settled(cluster: Cluster, nodes: list[Placement], shares: list[int], timeout: float = 5.0) -> float:
    """Wait until ``nodes`` own every partition exactly once in ``shares``; return how long it took."""
    started = time.monotonic()
    await eventually(
        lambda: cluster.counts(nodes) == shares and cluster.owned_exactly_once(nodes),
        timeout=timeout,
        message=f"placement settles to {shares}",
    )
    return time.monotonic() - started


async def renewed_twice(nodes: list[Placement]) -> None:
    """Wait for two renewal rounds of every lease (a signal: their KV revisions move)."""
    for _ in range(2):
        before = {(n.node_id, p): lease.revision for n in nodes for p, lease in n.leases.held.items()}
        await eventually(
            lambda: all(
                n.leases.held[p].revision > rev for (i, p), rev in before.items() for n in nodes if n.node_id == i
            ),
            timeout=5 * RENEW + 2,
        )


async def test_one_node_takes_every_partition_and_a_second_gets_half(cluster: Cluster) -> None:
    first = await cluster.start()
    await settled(cluster, [first], [64])
    second = await cluster.start()
    took = await settled(cluster, [first, second], [32, 32])
    print(f"rebalance after a join: {took:.2f}s")
    assert took < 3.0
    assert {first.owns(f"w{i}") is not None for i in range(200)} == {True, False}
    for i in range(200):  # every world has exactly one owner, and the owner's token is its lease's
        owners = [n for n in (first, second) if n.owns(f"w{i}") is not None]
        assert len(owners) == 1
        assert owners[0].owns(f"w{i}") == owners[0].leases.held[partition_of(f"w{i}")].token


async def test_three_nodes_settle_to_a_fair_share_and_stay(cluster: Cluster) -> None:
    nodes = list(await asyncio.gather(*(cluster.start() for _ in range(3))))
    took = await settled(cluster, nodes, [21, 21, 22])
    print(f"3 nodes from nothing to 21/21/22: {took:.2f}s")
    before = {node.node_id: node.owned for node in nodes}
    biggest = max(nodes, key=lambda node: len(node.owned))
    assert biggest.node_id == min(node.node_id for node in nodes)  # the extra one goes by id order
    await renewed_twice(nodes)
    assert {node.node_id: node.owned for node in nodes} == before  # no flapping, same tokens


async def test_joins_and_leaves_keep_one_owner_per_partition(cluster: Cluster) -> None:
    a = await cluster.start()
    await settled(cluster, [a], [64])
    b = await cluster.start()
    await settled(cluster, [a, b], [32, 32])
    c = await cluster.start()
    took = await settled(cluster, [a, b, c], [21, 21, 22])
    print(f"rebalance 32/32 -> 21/21/22 after a join: {took:.2f}s")
    await b.stop()
    await settled(cluster, [a, c], [32, 32])
    await a.stop()
    await settled(cluster, [c], [64])
    assert cluster.violations == []


async def test_graceful_leave_drains_before_releasing(cluster: Cluster) -> None:
    drained: list[tuple[int, bool, bool]] = []
    released: list[int] = []
    leaver: Placement

    async def drain(partition: int) -> None:
        await asyncio.sleep(0.01)  # a drain that takes a moment: renewals go on meanwhile
        still_leased = partition in leaver.leases.held and stayer.leases.owners[partition].node == leaver.node_id
        drained.append((partition, leaver.owns_partition(partition) is None, still_leased))

    stayer = await cluster.start()
    leaver = await cluster.start(drain=drain, on_released=released.append)
    await settled(cluster, [stayer, leaver], [32, 32])
    handed = sorted(leaver.owned)
    started = time.monotonic()
    await leaver.stop()
    took = await settled(cluster, [stayer], [64])
    print(f"graceful leave: stop() + hand-over of 32 partitions in {time.monotonic() - started:.2f}s")
    assert sorted(p for p, _, _ in drained) == handed == sorted(released)
    assert all(intake_closed and leased for _, intake_closed, leased in drained)
    assert took < 2.0


async def test_a_dead_node_loses_its_leases_by_expiry_and_survivors_take_them(cluster: Cluster) -> None:
    lost: list[int] = []
    survivors = [await cluster.start(), await cluster.start()]
    doomed = await cluster.start(on_lost=lost.append)
    await settled(cluster, [*survivors, doomed], [21, 21, 22])
    orphaned = sorted(doomed.owned)
    await cluster.connections[doomed.node_id].close()  # dies without a word: no release, no leave
    took = await settled(cluster, survivors, [32, 32], timeout=TTL + RENEW + 3)
    print(f"takeover after a death: {took:.2f}s (TTL {TTL:g}s, renewal every {RENEW:g}s)")
    assert took <= TTL + RENEW + 1.0  # server expiry, then the survivors' next balancing step
    await eventually(lambda: sorted(lost) == orphaned, timeout=TTL + RENEW)
    assert doomed.owned == {}


async def test_paused_node_loses_its_lease_and_its_stale_token_is_refused(
    database: Database, cluster: Cluster
) -> None:
    bucket = cluster.settings.lease_bucket
    lost: list[int] = []

    async def fence(partition: int, token: int) -> None:
        async with database.pool.acquire() as conn, conn.transaction():
            await check_fence(conn, partition, token, bucket=bucket)

    paused = await cluster.start(on_acquired=fence, on_lost=lost.append)
    await settled(cluster, [paused], [64])
    world = "paused-world"
    partition = partition_of(world)
    old_token = paused.owns(world)
    assert old_token is not None and await fence_of(database.pool, partition, bucket=bucket) == old_token

    paused.pause()  # as SIGSTOP would: no heartbeat, no renewal
    successor = await cluster.start(on_acquired=fence)
    took = await settled(cluster, [successor], [64], timeout=TTL + RENEW + 3)
    print(f"takeover from a paused node: {took:.2f}s")
    new_token = successor.owns(world)
    assert new_token is not None and new_token > old_token
    assert paused.owns(world) is None  # its own deadline passed while it slept

    paused.resume()
    await eventually(lambda: partition in lost, timeout=2.0, message="the paused node finds its lease lost")
    with pytest.raises(StaleLeaseError) as refused:
        await fence(partition, old_token)
    # The resumed node may already have rejoined and taken the partition back (a newer token still).
    assert (refused.value.partition, refused.value.token) == (partition, old_token)
    assert refused.value.current >= new_token > old_token
    assert f"partition {partition}: lease token {old_token} is stale: token {refused.value.current}" in str(refused.value)
    await settled(cluster, [successor, paused], [32, 32])  # the resumed node rejoins for a share
    owner = next(node for node in (successor, paused) if node.owns(world) is not None)
    await fence(partition, owner.owns(world) or 0)  # whoever owns the partition now commits


# -- fencing in PostgreSQL ----------------------------------------------------------------------


async def test_fence_admits_the_newest_token_and_refuses_older_ones(database: Database) -> None:
    pool = database.pool
    async with pool.acquire() as conn:
        with pytest.raises(QueryError, match="inside the transaction"):
            await check_fence(conn, 3, 5)
        async with conn.transaction():
            await check_fence(conn, 3, 5)
            await check_fence(conn, 3, 5)
        async with conn.transaction():
            await check_fence(conn, 3, 9)
        with pytest.raises(StaleLeaseError, match="partition 3: lease token 5 is stale: token 9"):
            async with conn.transaction():
                await check_fence(conn, 3, 5)
        async with conn.transaction():
            await check_fence(conn, 4, 2)  # another partition has its own fence
        assert await fence_of(pool, 3) == 9 and await fence_of(pool, 4) == 2


async def test_a_new_owner_waits_for_the_old_owners_open_commit_and_then_refuses_it(database: Database) -> None:
    pool = database.pool
    async with pool.acquire() as old, pool.acquire() as new:
        async with old.transaction():
            await check_fence(old, 1, 5)
        old_tx = old.transaction()
        await old_tx.start()
        await check_fence(old, 1, 5)  # the old owner is mid-commit
        new_pid = new.get_server_pid()
        takeover = asyncio.create_task(_fence_in_transaction(new, 1, 9))
        await eventually(
            lambda: pool.fetchval(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", new_pid
            ),
            message="the new owner's fence waits for the old owner's transaction",
        )
        await old_tx.commit()  # what began before the takeover finishes first
        await takeover
        with pytest.raises(StaleLeaseError):
            async with old.transaction():
                await check_fence(old, 1, 5)


async def _fence_in_transaction(conn: asyncpg.Connection, partition: int, token: int) -> None:
    async with conn.transaction():
        await check_fence(conn, partition, token)


# -- a real process, SIGSTOPped -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
async def test_sigstopped_process_loses_its_leases_and_its_commit_is_refused(
    database: Database, cluster: Cluster, pg_dsn: str, db_schema: str, nats_server_url: str
) -> None:
    settings = cluster.settings
    count = 4
    small = PlacementSettings(
        partitions=count, lease_ttl=TTL, renew_interval=RENEW,
        lease_bucket=settings.lease_bucket, node_bucket=settings.node_bucket,
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("placement_child.py")),
        nats_server_url, pg_dsn, db_schema, small.lease_bucket, small.node_bucket, str(count),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    lines: list[str] = []

    async def line_until(predicate: Callable[[str], bool], timeout: float = 15.0) -> str:
        async def read() -> str:
            assert child.stdout is not None
            while True:
                raw = await child.stdout.readline()
                assert raw, f"child exited early: {lines}"
                lines.append(raw.decode().strip())
                if predicate(lines[-1]):
                    return lines[-1]
        return await asyncio.wait_for(read(), timeout)

    try:
        await line_until(lambda line: line == "READY")
        child_tokens = {int(p): int(t) for _, p, t in (line.split() for line in lines if line.startswith("ACQUIRED"))}
        assert sorted(child_tokens) == list(range(count))

        os.kill(child.pid, signal.SIGSTOP)
        stopped = time.monotonic()

        async def fence(partition: int, token: int) -> None:
            async with database.pool.acquire() as conn, conn.transaction():
                await check_fence(conn, partition, token, bucket=small.lease_bucket)

        successor = await cluster.start(settings=small, on_acquired=fence)
        await eventually(lambda: len(successor.owned) == count, timeout=TTL + RENEW + 5)
        print(f"takeover from a SIGSTOPped process: {time.monotonic() - stopped:.2f}s after SIGSTOP")
        successor_tokens = dict(successor.owned)  # the child rejoins after SIGCONT and takes its share back

        os.kill(child.pid, signal.SIGCONT)
        refused = {}
        while len(refused) < count:
            line = await line_until(lambda line: line.startswith(("REFUSED", "COMMITTED")))
            assert line.startswith("REFUSED"), lines
            _, p, token, current = line.split()
            refused[int(p)] = (int(token), int(current))
        assert all(f"LOST {p}" in lines[: lines.index(f"REFUSED {p} {t} {c}")] for p, (t, c) in refused.items())
        for partition, (token, current) in refused.items():
            assert token == child_tokens[partition]
            assert current == successor_tokens[partition] > token
    finally:
        if child.returncode is None:
            os.kill(child.pid, signal.SIGCONT)
            assert child.stdin is not None
            child.stdin.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(child.wait(), 10)
            if child.returncode is None:
                child.kill()
                await child.wait()


def test_assign_spreads_the_worlds_keeps_the_partition_counts_and_is_a_fixed_point() -> None:
    import random

    from loreweave.actors.runtime.placement import assign, fair_shares

    rng = random.Random(7)
    nodes = ["n-a", "n-b", "n-c"]
    for _ in range(300):
        weights: dict[int, int] = {}
        for _ in range(rng.choice((3, 30, 100))):  # 30 worlds hashed into 64 partitions: uneven, most partitions empty
            partition = rng.randrange(64)
            weights[partition] = weights.get(partition, 0) + 1
        owners = {p: rng.choice(nodes) for p in range(64) if rng.random() < 0.8}
        placed = assign(nodes, 64, weights, owners)
        assert sorted(placed) == list(range(64))
        counts = {n: sum(1 for o in placed.values() if o == n) for n in nodes}
        assert counts == fair_shares(nodes, 64)
        loads = sorted(sum(weights.get(p, 0) for p, o in placed.items() if o == n) for n in nodes)
        assert loads[-1] <= -(-sum(weights.values()) // 3) + max(weights.values()) - 1, loads
        if len(weights) == 30 and max(weights.values()) == 1:
            assert loads == [10, 10, 10]
        assert assign(nodes, 64, weights, placed) == placed, "a balanced placement must not move again"


def test_plan_with_weights_takes_what_is_assigned_and_hands_over_the_rest() -> None:
    from loreweave.actors.runtime.placement import assign, plan

    weights = {1: 5, 2: 5, 3: 1}
    owners = {1: "a", 2: "a", 3: "a"}  # "a" holds all the weight; "b" just joined
    placed = assign(["a", "b"], 4, weights, owners)
    step_a = plan("a", ["a", "b"], 4, [1, 2, 3], owners, weights)
    step_b = plan("b", ["a", "b"], 4, [], owners, weights)
    assert set(step_a.release) == {p for p in (1, 2, 3) if placed[p] != "a"} and step_a.release
    assert set(step_b.acquire) == {p for p, n in placed.items() if n == "b" and p not in owners}
