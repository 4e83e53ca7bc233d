"""Partition leases in a NATS KV bucket: acquire by compare-and-set, renew before the TTL, release by revision.

A lease is the key ``p.<partition>`` of the bucket (``LW_PLACEMENT`` by default), written
with a per-message TTL. Its life:

- **acquire**: write ``{"node": id}`` expecting the key's newest revision to be a tombstone,
  an expiry marker or nothing (revision compare-and-set: two nodes cannot both succeed).
  The revision of that write is the lease's **fencing token**: stream sequences only grow,
  so a later owner always holds a larger token, and the database refuses commits carrying
  a smaller one (:mod:`loreweave.db.fencing`).
- **renew**: rewrite ``{"node": id, "token": t}`` expecting the revision of our last write,
  every renewal period. A refused renewal (someone else wrote, or the key expired and was
  taken) means the lease is **lost**: ``on_lost(partition)`` is called at once.
- **expire**: when renewals stop, the server removes the key after its TTL and places a
  marker; no clock is compared between hosts. The holder also gives up on its own when no
  renewal has succeeded for a TTL (measured from when it *sent* its last successful write,
  so before the server's expiry): a paused or partitioned node stops claiming ownership
  before anyone else can take over. That only ever gives up early; fencing is what keeps a
  late writer out.
- **release**: write a delete marker expecting the revision of our last write.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from nats.js import JetStreamContext
from nats.js.kv import KeyValue
from opentelemetry import metrics

from loreweave.actors.runtime.placement import kv as kvs
from loreweave.actors.runtime.placement.kv import log

#: Default lease bucket.
DEFAULT_LEASE_BUCKET = "LW_PLACEMENT"
#: Default lease TTL in seconds: long enough to ride out a GC pause or a NATS reconnect,
#: short enough that a dead node's worlds move within seconds.
DEFAULT_LEASE_TTL = 10.0
_KEY_PREFIX = "p."

_meter = metrics.get_meter("loreweave")
_acquired = _meter.create_counter("lw.placement.acquired", "{lease}", "Partition leases this node acquired.")
_released = _meter.create_counter("lw.placement.released", "{lease}", "Partition leases this node released.")
_lost = _meter.create_counter(
    "lw.placement.lost", "{lease}", "Partition leases this node lost (reason: taken, expired, deadline)."
)
_renew_failures = _meter.create_counter(
    "lw.placement.renew_failures", "{attempt}", "Lease renewals that failed without an answer (timeouts, disconnects)."
)


def lease_key(partition: int) -> str:
    """The KV key of a partition's lease: ``p.17``."""
    return f"{_KEY_PREFIX}{partition}"


def partition_of_key(key: str) -> int | None:
    """The partition a lease key names, or None for a key that is not a lease."""
    if not key.startswith(_KEY_PREFIX):
        return None
    try:
        return int(key[len(_KEY_PREFIX):])
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease this node holds.

    Attributes:
        partition: the partition.
        token: the KV revision of the acquisition: the fencing token every commit carries.
        revision: the KV revision of our newest write (moves with each renewal).
        deadline: ``time.monotonic()`` after which this node no longer counts on the lease:
            when its newest successful write was sent, plus the TTL.
    """

    partition: int
    token: int
    revision: int
    deadline: float


@dataclass(frozen=True, slots=True)
class Owner:
    """Who holds a partition, as the bucket says (what the watcher saw; may lag).

    ``weight`` is what the holder last reported of the partition's load (its worlds), for the
    balancer to spread load and not only partitions.
    """

    node: str
    token: int
    revision: int
    weight: int = 0


def encode_owner(node: str, token: int | None, weight: int = 0) -> bytes:
    """The value of a lease key."""
    data: dict[str, object] = {"node": node}
    if token:
        data["token"] = token
    if weight:
        data["weight"] = weight
    return json.dumps(data).encode()


def decode_owner(value: bytes, revision: int) -> Owner | None:
    """Read a lease value; an acquisition (no token yet) has its own revision as token."""
    try:
        data = json.loads(value)
        return Owner(str(data["node"]), int(data.get("token") or revision), revision, int(data.get("weight") or 0))
    except (ValueError, KeyError, TypeError):
        return None


class PartitionLeases:
    """The partition leases of one node, over a NATS KV bucket.

    ``on_acquired(partition, token)`` and ``on_lost(partition)`` are called synchronously
    when a lease is won or lost, so the caller can open or close intake before anything else
    runs. ``owners`` is the bucket as a watcher sees it (every node's leases); ``changed`` is
    set whenever it changes.
    """

    def __init__(
        self,
        js: JetStreamContext,
        node_id: str,
        *,
        bucket: str = DEFAULT_LEASE_BUCKET,
        ttl: float = DEFAULT_LEASE_TTL,
        replicas: int = 1,
        request_timeout: float | None = None,
        on_acquired: Callable[[int, int], None] | None = None,
        on_lost: Callable[[int], None] | None = None,
    ) -> None:
        self.js = js
        self.node_id = node_id
        self.bucket = bucket
        self.ttl = kvs.check_ttl("placement.lease_ttl", ttl)
        self.replicas = replicas
        self.request_timeout = request_timeout or max(0.5, self.ttl / 4)
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        #: Leases this node holds, by partition.
        self.held: dict[int, Lease] = {}
        #: Every partition's owner, as the watcher saw it.
        self.owners: dict[int, Owner] = {}
        #: The last weight any holder reported for a partition, kept while it moves (released, not yet
        #: taken, or taken and still loading): placement stays put while a partition is in transit.
        self.last_weight: dict[int, int] = {}
        #: ``weight(partition)``: the load of a held partition, written with each renewal (see :class:`Owner`).
        self.weight: Callable[[int], int] | None = None
        self.changed = asyncio.Event()
        self._kv: KeyValue | None = None
        self._watch: kvs.BucketWatch | None = None
        self._locks: dict[int, asyncio.Lock] = {}

    async def start(self) -> None:
        """Create or bind the bucket and start following it."""
        self._kv = await kvs.open_bucket(
            self.js, self.bucket, replicas=self.replicas, description="Loreweave partition leases"
        )
        self._watch = kvs.BucketWatch(self._kv, self._seen)
        await self._watch.start()

    async def stop(self) -> None:
        """Stop following the bucket (held leases are left to expire; release them first)."""
        if self._watch is not None:
            await self._watch.stop()

    def _seen(self, key: str, revision: int, value: bytes | None) -> None:
        partition = partition_of_key(key)
        if partition is None:
            return
        owner = decode_owner(value, revision) if value is not None else None
        known = self.owners.get(partition)
        if known is not None and known.revision > revision:
            return  # our own ack already told us about a newer write
        if owner is None:
            if self.owners.pop(partition, None) is not None:
                self.changed.set()
            return
        self.owners[partition] = owner
        self.last_weight[partition] = owner.weight  # 0 from a holder: its worlds are gone
        if known is None or (known.node, known.token, known.weight) != (owner.node, owner.token, owner.weight):
            self.changed.set()  # a renewal (a new revision, same owner, token and weight) changes no plan

    def _lock(self, partition: int) -> asyncio.Lock:
        return self._locks.setdefault(partition, asyncio.Lock())

    @property
    def kv(self) -> KeyValue:
        if self._kv is None:
            raise RuntimeError("PartitionLeases.start() was not awaited")
        return self._kv

    async def acquire(self, partition: int) -> Lease | None:
        """Take the partition's lease if it is free; None when someone holds it (or the write failed).

        A lease left in the bucket under this node's id but not held (an acquisition whose
        ack was lost, a lease given up at its deadline) is taken over with a new token, so
        work done under the old token stays fenced out.
        """
        async with self._lock(partition):
            if partition in self.held:
                return self.held[partition]
            key = lease_key(partition)
            try:
                current = await kvs.read_current(self.js, self.kv, key)
                last = 0
                if current is not None:
                    if current.value is not None:
                        owner = decode_owner(current.value, current.revision)
                        if owner is None or owner.node != self.node_id:
                            return None
                    last = current.revision
                sent = time.monotonic()
                token = await kvs.cas_put(
                    self.js, self.kv, key, encode_owner(self.node_id, None, self.last_weight.get(partition, 0)),
                    last=last, ttl=self.ttl, timeout=self.request_timeout,
                )
            except kvs.TRANSIENT_ERRORS as error:
                if not kvs.is_conflict(error):
                    log.info("placement: acquiring partition %d failed: %s", partition, error)
                return None
            lease = Lease(partition, token, token, sent + self.ttl)
            self.held[partition] = lease
            self.owners[partition] = Owner(self.node_id, token, token, self.last_weight.get(partition, 0))
        _acquired.add(1)
        log.info("placement: %s acquired partition %d (token %d)", self.node_id, partition, token)
        if self.on_acquired is not None:
            self.on_acquired(partition, token)
        return lease

    async def renew_all(self) -> list[int]:
        """Renew every held lease at once; return the partitions lost (refused, or past their deadline)."""
        lost = self.expire_overdue()
        results = await asyncio.gather(*(self._renew(partition) for partition in list(self.held)))
        return lost + [partition for partition, kept in results if not kept]

    async def _renew(self, partition: int) -> tuple[int, bool]:
        async with self._lock(partition):
            lease = self.held.get(partition)
            if lease is None:
                return partition, True  # released meanwhile
            key = lease_key(partition)
            value = encode_owner(self.node_id, lease.token, self.weight(partition) if self.weight else 0)
            sent = time.monotonic()
            try:
                try:
                    revision = await kvs.cas_put(
                        self.js, self.kv, key, value, last=lease.revision, ttl=self.ttl, timeout=self.request_timeout
                    )
                except kvs.TRANSIENT_ERRORS as error:
                    if not kvs.is_conflict(error):
                        raise
                    # A renewal whose ack we missed may have landed: the key is still ours if it
                    # carries our token (no other writer can have written it).
                    current, owner = await self._current(key, lease)
                    if current is None:
                        self._lose(partition, "expired" if owner is None else "taken")
                        return partition, False
                    revision = await kvs.cas_put(
                        self.js, self.kv, key, value, last=current.revision, ttl=self.ttl, timeout=self.request_timeout
                    )
            except kvs.TRANSIENT_ERRORS as error:
                if kvs.is_conflict(error):
                    self._lose(partition, "taken")
                    return partition, False
                _renew_failures.add(1)
                log.warning("placement: renewing partition %d failed (will retry): %s", partition, error)
                return partition, True
            if self.held.get(partition) is lease:
                self.held[partition] = replace(lease, revision=revision, deadline=sent + self.ttl)
            return partition, True

    async def _current(self, key: str, lease: Lease) -> tuple[kvs.Current | None, Owner | None]:
        """The key's newest entry if it still carries this lease (our node and token), and its owner."""
        current = await kvs.read_current(self.js, self.kv, key)
        owner = decode_owner(current.value, current.revision) if current and current.value else None
        if owner is None or owner.node != self.node_id or owner.token != lease.token:
            return None, owner
        return current, owner

    def expire_overdue(self, now: float | None = None) -> list[int]:
        """Give up the leases whose deadline passed without a successful renewal; return them."""
        now = time.monotonic() if now is None else now
        overdue = [lease.partition for lease in self.held.values() if lease.deadline <= now]
        for partition in overdue:
            self._lose(partition, "deadline")
        return overdue

    def _lose(self, partition: int, reason: str) -> None:
        lease = self.held.pop(partition, None)
        if lease is None:
            return
        _lost.add(1, {"reason": reason})
        log.warning(
            "placement: %s lost partition %d (token %d): %s", self.node_id, partition, lease.token,
            {"taken": "another node wrote the lease", "expired": "the lease expired on the server",
             "deadline": f"no renewal succeeded for {self.ttl:g}s"}.get(reason, reason),
        )
        if self.on_lost is not None:
            self.on_lost(partition)

    async def release(self, partition: int) -> bool:
        """Delete the lease if it is still ours; True when the delete was confirmed.

        The lease is dropped locally whatever happens: on a failed delete it expires by its TTL.
        """
        async with self._lock(partition):
            lease = self.held.pop(partition, None)
            if lease is None:
                return False
            key = lease_key(partition)
            try:
                try:
                    await kvs.cas_delete(self.js, self.kv, key, last=lease.revision, timeout=self.request_timeout)
                except kvs.TRANSIENT_ERRORS as error:
                    if not kvs.is_conflict(error):
                        raise
                    # A renewal whose ack we never saw (cancelled, or lost) moved the revision: the
                    # key is still ours if it carries our token, so delete it at its newest revision.
                    current, _ = await self._current(key, lease)
                    if current is None:
                        return False  # expired or taken meanwhile: nothing of ours to release
                    await kvs.cas_delete(self.js, self.kv, key, last=current.revision, timeout=self.request_timeout)
            except kvs.TRANSIENT_ERRORS as error:
                log.warning("placement: releasing partition %d was not confirmed (it will expire): %s", partition, error)
                return False
        _released.add(1)
        log.info("placement: %s released partition %d (token %d)", self.node_id, partition, lease.token)
        return True

    def owned_by(self, node: str) -> Iterable[int]:
        """Partitions the bucket says ``node`` holds."""
        return (partition for partition, owner in self.owners.items() if owner.node == node)
