"""``Placement``: one node's share of the partitions, kept by leases, membership and the fair-share rule.

Two loops run per node:

- the **renewal loop**, every ``renew_interval`` (default a third of the TTL): heartbeat,
  then renew every held lease at once. It never waits on the runtime's callbacks, so a slow
  drain or a slow ``on_acquired`` cannot let a lease expire.
- the **balancing loop**, woken by any change in the lease or node buckets (and once per
  renewal interval): compute the fair-share plan, acquire free partitions, and hand surplus
  partitions to a drain task each (``drain(partition)``, then release).

A partition becomes *ready* (``owns`` returns its token) only after ``on_acquired`` has
returned, stops being ready the moment it is lost or starts draining, and
``owns(world)`` also refuses a lease past its local deadline, so a node that wakes from a
pause stops taking frames before its renewal loop has even run.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nats.js import JetStreamContext

from loreweave.actors.runtime.placement.balancer import Plan, plan
from loreweave.actors.runtime.placement.kv import check_ttl, log
from loreweave.actors.runtime.placement.leases import DEFAULT_LEASE_BUCKET, DEFAULT_LEASE_TTL, PartitionLeases
from loreweave.actors.runtime.placement.membership import (
    DEFAULT_NODE_BUCKET,
    Membership,
    check_node_id,
    new_node_id,
)
from loreweave.actors.runtime.placement.partitions import DEFAULT_PARTITIONS, check_partition_count, partition_of
from loreweave.protocol.errors import ConfigError

OnAcquired = Callable[[int, int], Awaitable[None] | None]
OnPartition = Callable[[int], Awaitable[None] | None]
Drain = Callable[[int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PlacementSettings:
    """How a node takes part in placement; every node of a cluster must agree on ``partitions`` and the buckets.

    Attributes:
        partitions: number of partitions worlds are hashed into.
        lease_ttl: seconds a lease (and a heartbeat) lives on the server without renewal;
            whole seconds (the server truncates). A dead node's worlds move after about this long.
        renew_interval: seconds between renewals; default ``lease_ttl / 3``, so two renewals
            can fail before a lease is at risk. Must be under half the TTL.
        lease_bucket: KV bucket of partition leases.
        node_bucket: KV bucket of node heartbeats.
        drain_timeout: seconds a graceful hand-over waits for ``drain(partition)`` before
            releasing anyway (fencing still refuses anything the drain commits late).
        replicas: replicas of the two buckets (3 in a clustered NATS).
    """

    partitions: int = DEFAULT_PARTITIONS
    lease_ttl: float = DEFAULT_LEASE_TTL
    renew_interval: float | None = None
    lease_bucket: str = DEFAULT_LEASE_BUCKET
    node_bucket: str = DEFAULT_NODE_BUCKET
    drain_timeout: float = 30.0
    replicas: int = field(default=1)

    def __post_init__(self) -> None:
        check_partition_count(self.partitions)
        check_ttl("placement.lease_ttl", self.lease_ttl)
        if self.renew_interval is not None and not 0 < self.renew_interval < self.lease_ttl / 2:
            raise ConfigError(
                "placement.renew_interval",
                f"must be above 0 and under half the lease TTL ({self.lease_ttl / 2:g}s), got {self.renew_interval!r}",
            )
        if self.lease_bucket == self.node_bucket:
            raise ConfigError("placement.node_bucket", f"must differ from the lease bucket ({self.lease_bucket})")
        if not self.drain_timeout > 0:
            raise ConfigError("placement.drain_timeout", f"must be above 0, got {self.drain_timeout!r}")

    @property
    def renew_every(self) -> float:
        """The renewal period in seconds."""
        return self.renew_interval if self.renew_interval is not None else self.lease_ttl / 3


async def _call(callback: Callable[..., Awaitable[None] | None] | None, *args: int) -> None:
    if callback is None:
        return
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


class Placement:
    """Which partitions (and so which worlds) this node handles, kept fair and fenced.

    Args:
        js: a JetStream context on this node's own NATS connection.
        node_id: this node's id; default one unique to this process run.
        settings: see :class:`PlacementSettings`.
        on_acquired: ``(partition, token)`` after a lease is won and before the partition is
            ready: fence it in the database (:func:`loreweave.db.fencing.check_fence`), then
            load or subscribe. Raising gives the lease back.
        on_lost: ``(partition)`` when a lease is lost (refused renewal, expiry, deadline):
            stop intake for it at once; work in flight will be refused by fencing. A plain
            function is called synchronously, before anything else runs.
        drain: ``await drain(partition)`` before a graceful release: stop intake, finish
            what is in flight, snapshot. The lease is renewed meanwhile.
        on_released: ``(partition)`` after a graceful release.
    """

    def __init__(
        self,
        js: JetStreamContext,
        *,
        node_id: str | None = None,
        settings: PlacementSettings | None = None,
        on_acquired: OnAcquired | None = None,
        on_lost: OnPartition | None = None,
        drain: Drain | None = None,
        on_released: OnPartition | None = None,
    ) -> None:
        self.settings = settings or PlacementSettings()
        self.node_id = check_node_id(node_id) if node_id is not None else new_node_id()
        self._count = self.settings.partitions
        self._on_acquired = on_acquired
        self._on_lost = on_lost
        self._drain = drain
        self._on_released = on_released
        self._kick = asyncio.Event()
        self.leases = PartitionLeases(
            js, self.node_id, bucket=self.settings.lease_bucket, ttl=self.settings.lease_ttl,
            replicas=self.settings.replicas, on_lost=self._lost,
        )
        self.membership = Membership(
            js, self.node_id, bucket=self.settings.node_bucket, ttl=self.settings.lease_ttl,
            replicas=self.settings.replicas,
        )
        # Both tables wake the balancer when they change.
        self.leases.changed = self.membership.changed = self._kick
        #: This node's fair share in the last balancing step.
        self.target = 0
        self._ready: set[int] = set()
        self._draining: dict[int, asyncio.Task[None]] = {}
        self._taking: set[int] = set()
        self._callbacks: set[asyncio.Task[None]] = set()
        self._renewing: asyncio.Task[None] | None = None
        self._balancing: asyncio.Task[None] | None = None
        self._leaving = False
        self._stopped = False

    # -- the per-frame question ------------------------------------------------------------

    def partition_of(self, world: str) -> int:
        """The partition of ``world`` (same as :func:`partition_of` with this cluster's count)."""
        return partition_of(world, self._count)

    def owns(self, world: str) -> int | None:
        """The fencing token under which this node handles ``world`` now, or None: a hash and two dict lookups."""
        return self.owns_partition(partition_of(world, self._count))

    def owns_partition(self, partition: int) -> int | None:
        """The fencing token of a ready partition this node holds, or None."""
        if partition not in self._ready:
            return None
        lease = self.leases.held.get(partition)
        if lease is None or lease.deadline <= time.monotonic():
            return None
        return lease.token

    @property
    def owned(self) -> dict[int, int]:
        """Ready partitions → fencing token."""
        return {p: token for p in sorted(self._ready) if (token := self.owns_partition(p)) is not None}

    @property
    def members(self) -> frozenset[str]:
        """Live nodes as this node sees them."""
        return frozenset(self.membership.members | ({self.node_id} if not self._leaving else set()))

    # -- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Join: create or bind the buckets, announce this node, and start renewing and balancing."""
        await self.leases.start()
        await self.membership.start()
        self._start_loops()
        log.info("placement: %s joined (%d partitions, TTL %gs)", self.node_id, self._count, self.settings.lease_ttl)

    def _start_loops(self) -> None:
        self._renewing = asyncio.create_task(self._renew_loop(), name=f"lw-placement-renew-{self.node_id}")
        self._balancing = asyncio.create_task(self._balance_loop(), name=f"lw-placement-balance-{self.node_id}")

    async def stop(self) -> None:
        """Leave gracefully: leave the member set, drain and release every partition, then stop.

        Leaving first makes the other nodes' shares grow before the releases, so they take
        each partition as soon as it is free. Stopping again does nothing.
        """
        if self._stopped:
            return
        self._stopped = self._leaving = True
        await self._cancel(self._balancing)
        if self._renewing is None:  # paused: renew while draining
            self._renewing = asyncio.create_task(self._renew_loop())
        await self.membership.leave()
        for partition in list(self.leases.held):
            if partition not in self._draining:
                self._draining[partition] = asyncio.create_task(self._give_up(partition))
        await asyncio.gather(*self._draining.values(), return_exceptions=True)
        await self._cancel(self._renewing)
        self._renewing = self._balancing = None
        await asyncio.gather(*self._callbacks, return_exceptions=True)
        await self.leases.stop()
        await self.membership.stop()
        log.info("placement: %s left", self.node_id)

    def pause(self) -> None:
        """Stop renewing and balancing, as a SIGSTOP would (for tests and chaos runs)."""
        for task in (self._renewing, self._balancing):
            if task is not None:
                task.cancel()
        self._renewing = self._balancing = None

    def resume(self) -> None:
        """Run the loops again after :meth:`pause`: leases past their deadline are found lost first."""
        if self._renewing is None and not self._leaving:
            self._start_loops()

    @staticmethod
    async def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:  # the loops catch their own errors; this is a bug, not a reason to fail stop()
            log.exception("placement: %s ended with an error", task.get_name())

    # -- loops -------------------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        loop = asyncio.get_running_loop()
        every = self.settings.renew_every
        while True:
            started = loop.time()
            try:
                self.leases.expire_overdue()
                if not self._leaving:
                    await self.membership.beat()
                await self.leases.renew_all()
            except Exception:  # the loop that keeps the leases must outlive any one bad round
                log.exception("placement: renewal round of %s failed", self.node_id)
            await asyncio.sleep(max(0.0, started + every - loop.time()))

    async def _balance_loop(self) -> None:
        every = self.settings.renew_every
        while True:
            self._kick.clear()
            try:
                await self.balance()
            except Exception:  # a failed step is retried at the next change or period
                log.exception("placement: balancing step of %s failed", self.node_id)
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=every)
            except asyncio.TimeoutError:
                pass

    async def balance(self) -> Plan:
        """One balancing step: acquire toward the fair share, start draining the surplus."""
        self.leases.expire_overdue()
        held = [p for p in self.leases.held if p not in self._draining]
        owners = {p: owner.node for p, owner in self.leases.owners.items()}
        owners.update((p, self.node_id) for p in self.leases.held)
        # The weights the bucket shows (this node's too), so that every node plans from the same inputs;
        # a partition in transit (released, or taken and still loading) keeps its last reported weight.
        weights = {p: w for p, w in self.leases.last_weight.items() if w and 0 <= p < self._count}
        step = plan(self.node_id, self.members, self._count, held, owners, weights)
        self.target = step.target
        acquire = [p for p in step.acquire if p not in self._draining]  # a hand-over in progress ends first
        if acquire:
            await asyncio.gather(*(self._take(p) for p in acquire))
        for partition in step.release:
            if partition in self._taking:
                continue  # still being taken over: handed on once ready (the next step)
            self._draining[partition] = asyncio.create_task(self._give_up(partition))
        return step

    # -- one partition -----------------------------------------------------------------------

    async def _take(self, partition: int) -> None:
        lease = await self.leases.acquire(partition)
        if lease is None:
            return
        self._taking.add(partition)
        try:
            await _call(self._on_acquired, partition, lease.token)
        except Exception:
            log.exception("placement: on_acquired(%d) failed; giving the lease back", partition)
            await self.leases.release(partition)
            return
        finally:
            self._taking.discard(partition)
            self._kick.set()
        current = self.leases.held.get(partition)
        if current is not None and current.token == lease.token and partition not in self._draining:
            self._ready.add(partition)

    async def _give_up(self, partition: int) -> None:
        self._ready.discard(partition)  # intake stops before the drain starts
        try:
            if self._drain is not None:
                await asyncio.wait_for(self._drain(partition), timeout=self.settings.drain_timeout)
        except asyncio.TimeoutError:
            log.warning("placement: draining partition %d took over %gs; releasing anyway",
                        partition, self.settings.drain_timeout)
        except Exception:
            log.exception("placement: draining partition %d failed; releasing anyway", partition)
        try:
            held = partition in self.leases.held
            await self.leases.release(partition)
            if held:
                await _call(self._on_released, partition)
        finally:
            self._draining.pop(partition, None)
            self._kick.set()

    def _lost(self, partition: int) -> None:
        self._ready.discard(partition)
        self._kick.set()
        if self._on_lost is None:
            return
        result = self._on_lost(partition)
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            self._callbacks.add(task)
            task.add_done_callback(self._callbacks.discard)
