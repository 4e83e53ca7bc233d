"""Exclusive actors: across every node on a bus, one active instance of each actor at a time.

Each actor of a node is a lease in the NATS KV bucket ``LW_ACTORS`` (the placement leases of
:mod:`loreweave.actors.runtime.placement.leases`, keyed by a stable number per actor name).
The node holding an actor's lease runs it: handles its frames, answers its requests, ticks
its timers. The others stand by with the same subscriptions, dropping what they receive, and
take the lease when it expires (the holder died, or stopped) or is released (a graceful stop).
The lease's token fences every commit of the actor in PostgreSQL (:func:`loreweave.db.check_fence`),
so a holder that was paused past its TTL cannot commit after its successor took over.

This is placement at actor granularity: it makes several ``loreweave run`` processes safe and
highly available (consistent answers, timers once, failover) but runs each actor on one node.
Placing worlds (partitions of them) across nodes builds on the same leases and fences.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nats.js import JetStreamContext
from pydantic import BaseModel

from loreweave.actors.runtime.actor import Actor
from loreweave.actors.runtime.persistence import dump_state, load_state
from loreweave.actors.runtime.placement.coordinator import PlacementSettings
from loreweave.actors.runtime.placement.leases import DEFAULT_LEASE_BUCKET, PartitionLeases
from loreweave.actors.runtime.placement.membership import DEFAULT_NODE_BUCKET, new_node_id
from loreweave.actors.runtime.placement.partitions import DEFAULT_PARTITIONS
from loreweave.db.fencing import StaleLeaseError, check_fence
from loreweave.protocol import ConfigError

if TYPE_CHECKING:
    from loreweave.actors.runtime.bus import Bus
    from loreweave.actors.runtime.persistence import PersistentRunner
    from loreweave.config import Settings
    from loreweave.db import Database

logger = logging.getLogger(__name__)

#: KV bucket of actor leases (and the fencing bucket of their tokens).
ACTOR_LEASE_BUCKET = "LW_ACTORS"


@dataclass(frozen=True)
class ExclusiveSettings:
    """How a node shares its actors with the other nodes on the bus.

    Attributes:
        lease_ttl: whole seconds an actor's lease lives on the server without renewal: a dead
            node's actors resume elsewhere after about this long.
        snapshot_every_s: how often an active in-memory actor's state is saved (with a
            database), so the node taking it over starts from there.
        bucket: the KV bucket of the actor leases; every node on the bus must use the same.
        partitions: how many partitions worlds hash into (world-placed actors).
        world_bucket: the KV bucket of the partition leases.
        node_bucket: the KV bucket of the nodes' heartbeats (who shares the partitions).
        replicas: copies of the lease and node buckets in a clustered NATS.
    """

    lease_ttl: float = 5.0
    snapshot_every_s: float = 2.0
    bucket: str = ACTOR_LEASE_BUCKET
    partitions: int = DEFAULT_PARTITIONS
    world_bucket: str = DEFAULT_LEASE_BUCKET
    node_bucket: str = DEFAULT_NODE_BUCKET
    replicas: int = 1

    @classmethod
    def from_settings(cls, settings: Settings) -> ExclusiveSettings | None:
        """From ``LOREWEAVE_EXCLUSIVE_ACTORS``, ``LOREWEAVE_ACTOR_LEASE_TTL_S`` and ``LOREWEAVE_PARTITIONS``;
        None when turned off."""
        if not settings.exclusive_actors:
            return None
        return cls(
            lease_ttl=float(settings.actor_lease_ttl_s), partitions=settings.partitions, replicas=settings.replicas
        )

    def placement(self, drain_timeout: float) -> PlacementSettings:
        """The world placement settings these stand for."""
        return PlacementSettings(
            partitions=self.partitions, lease_ttl=self.lease_ttl, lease_bucket=self.world_bucket,
            node_bucket=self.node_bucket, drain_timeout=drain_timeout, replicas=self.replicas,
        )

    def __post_init__(self) -> None:
        if self.lease_ttl < 1 or self.lease_ttl != int(self.lease_ttl):
            raise ConfigError("exclusive.lease_ttl", f"must be a whole number of seconds >= 1, got {self.lease_ttl!r}")
        if not self.snapshot_every_s > 0:
            raise ConfigError("exclusive.snapshot_every_s", f"must be above 0, got {self.snapshot_every_s!r}")


def actor_key(name: str) -> int:
    """The stable lease number of an actor name (the same in every process and language: CRC-32)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


class ActorLeases:
    """The leases of the actors one node hosts: taken when free, renewed, given up on loss.

    Args:
        js: JetStream on the node's own connection.
        names: the actors this node hosts.
        on_acquired: ``(name, token)`` once this node holds an actor's lease (synchronous).
        on_lost: ``(name)`` the moment a lease is lost (synchronous: stop intake at once).
    """

    def __init__(
        self,
        js: JetStreamContext,
        names: Iterable[str],
        settings: ExclusiveSettings,
        *,
        on_acquired: Callable[[str, int], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self.settings = settings
        hosted = list(names)
        self.names = {actor_key(name): name for name in hosted}
        if len(self.names) != len(set(hosted)):
            raise ConfigError("actors", "two actor names share a lease number; rename one")
        self.node_id = new_node_id()
        self._on_acquired, self._on_lost = on_acquired, on_lost
        self.leases = PartitionLeases(
            js, self.node_id, bucket=settings.bucket, ttl=settings.lease_ttl, replicas=settings.replicas,
            on_acquired=lambda key, token: self._on_acquired(self.names[key], token),
            on_lost=lambda key: self._on_lost(self.names[key]),
        )
        self._loop: asyncio.Task[None] | None = None
        self._closing = False

    def token(self, name: str) -> int | None:
        """The fencing token under which this node runs ``name`` now, or None."""
        lease = self.leases.held.get(actor_key(name))
        return lease.token if lease is not None else None

    async def start(self) -> None:
        """Bind the bucket, take every free lease, and keep renewing and taking."""
        await self.leases.start()
        await self._take_free()
        self._loop = asyncio.create_task(self._keep(), name="actor-leases")

    async def _take_free(self) -> None:
        for key in self.names:
            if key not in self.leases.held and key not in self.leases.owners:
                await self.leases.acquire(key)

    async def _keep(self) -> None:
        period = self.settings.lease_ttl / 3
        # A flag as well as the cancel: a client call may turn a cancellation into its own timeout.
        while not self._closing:
            try:
                await asyncio.wait_for(self.leases.changed.wait(), period)
            except asyncio.TimeoutError:
                pass
            self.leases.changed.clear()
            if self._closing:
                break
            try:
                await self.leases.renew_all()
                await self._take_free()
            except Exception:  # a reconnect, a slow server: the next round tries again
                logger.warning("actor leases: renewing or taking failed", exc_info=True)

    async def release(self, name: str) -> None:
        """Give ``name``'s lease back (after the actor stopped and saved its state)."""
        await self.leases.release(actor_key(name))

    async def stop(self) -> None:
        """Stop renewing and taking; release what is still held; stop following the bucket."""
        self._closing = True
        self.leases.changed.set()  # wake the loop: it ends after the round in hand
        if self._loop is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._loop), self.settings.lease_ttl / 3)
            except (asyncio.TimeoutError, Exception):
                self._loop.cancel()
                await asyncio.gather(self._loop, return_exceptions=True)
        for key in list(self.leases.held):
            await self.leases.release(key)
        await self.leases.stop()


def has_memory_state(actor: Actor) -> bool:
    """Whether an actor keeps a state model in memory only (not a persistent actor)."""
    return actor.State is None and isinstance(getattr(actor, "state", None), BaseModel)


class Exclusivity:
    """What a node does to run its actors exclusively: activate one on its lease, stand by without.

    On a lease the actor is activated: its fence is raised in PostgreSQL (so the previous
    holder's last commits are in, and any later one is refused), its state is loaded (a
    persistent actor's snapshot, or an in-memory actor's last saved state), then it takes
    frames, answers and ticks. On a loss it stops at once. While active, an in-memory actor's
    state is saved every ``snapshot_every_s`` and when the node stops.

    Args:
        start_persistent: ``(actor, halt)`` starts the persistent consumer of an activated
            actor, running until ``halt`` is set; returns its task.
    """

    def __init__(
        self,
        bus: Bus,
        actors: Iterable[Actor],
        settings: ExclusiveSettings,
        database: Database | None,
        persistent: dict[str, PersistentRunner],
        start_persistent: Callable[[Actor, asyncio.Event], asyncio.Task[None]],
    ) -> None:
        self.actors = {actor.name: actor for actor in actors}
        self.settings = settings
        self.database = database
        self.persistent = persistent
        self._start_persistent = start_persistent
        #: Active actor -> the token it runs under.
        self.tokens: dict[str, int] = {}
        self._halts: dict[str, asyncio.Event] = {}
        #: Set by :meth:`halt_all`: the node is stopping, so no actor starts here any more.
        self._stopping = False
        self._activations: set[asyncio.Task[None]] = set()
        self._saver: asyncio.Task[None] | None = None
        self._saved: dict[str, tuple[int, bytes]] = {}
        self.leases = ActorLeases(
            bus.js, self.actors, settings, on_acquired=self._acquired, on_lost=self._lost
        )

    def active(self, actor: Actor) -> bool:
        """Whether this node runs ``actor`` now."""
        return actor.name in self.tokens

    async def start(self) -> None:
        """Take the free leases and activate their actors before returning; keep taking after."""
        await self.leases.start()
        while self._activations:
            await asyncio.gather(*list(self._activations), return_exceptions=True)
        if self.database is not None and any(has_memory_state(a) for a in self.actors.values()):
            self._saver = asyncio.create_task(self._save_periodically(), name="exclusive-snapshots")

    def _acquired(self, name: str, token: int) -> None:
        if self._stopping:  # won while stopping (another node let it go): stop() gives it back
            return
        task = asyncio.create_task(self._activate(name, token), name=f"activate-{name}")
        self._activations.add(task)
        task.add_done_callback(self._activations.discard)

    async def _activate(self, name: str, token: int) -> None:
        actor = self.actors[name]
        key = actor_key(name)
        runner = self.persistent.get(name)
        try:
            if self.database is not None:
                async with self.database.state.transaction() as conn:
                    await check_fence(conn, key, token, bucket=self.settings.bucket)
                if runner is not None:
                    runner.fence = (self.settings.bucket, key, token)
                    await runner.load()
                elif has_memory_state(actor):
                    snapshot = await self.database.state.load_snapshot(name)
                    if snapshot is not None:
                        load_state(actor, snapshot.state)
        except Exception:
            logger.exception("%s: activation under token %d failed; giving the lease back", name, token)
            await self.leases.release(name)
            return
        if self.leases.token(name) != token or self._stopping:
            return  # lost while loading, or the node began to stop: nothing may start after halt_all
        try:
            await actor.on_activate()
        except Exception:
            logger.exception("%s.on_activate failed", name)
        self.tokens[name] = token
        halt = self._halts[name] = asyncio.Event()
        if runner is not None:
            self._start_persistent(actor, halt)
        logger.info("%s is active on this node (lease token %d)", name, token)

    def _lost(self, name: str) -> None:
        self.tokens.pop(name, None)
        halt = self._halts.pop(name, None)
        if halt is not None:
            halt.set()
            logger.warning("%s stopped on this node: its lease was lost", name)

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.snapshot_every_s)
            await self.save_all()

    async def save_all(self) -> None:
        """Save the state of every active in-memory actor, fenced by its token."""
        assert self.database is not None
        for name, token in list(self.tokens.items()):
            actor = self.actors[name]
            if not has_memory_state(actor):
                continue
            data = dump_state(actor)
            if self._saved.get(name) == (token, data):
                continue  # unchanged since its last save under this lease
            try:
                async with self.database.state.transaction() as conn:
                    await check_fence(conn, actor_key(name), token, bucket=self.settings.bucket)
                    await self.database.state.save_snapshot(name, data, 0, conn=conn)
                self._saved[name] = (token, data)
            except StaleLeaseError:
                self._lost(name)
            except Exception:
                logger.warning("%s: saving its state failed (next round tries again)", name, exc_info=True)

    def halt_all(self) -> None:
        """Stop the persistent consumers (the node is stopping); a lease won from now on starts nothing."""
        self._stopping = True
        for halt in self._halts.values():
            halt.set()

    async def stop(self) -> None:
        """Save what is active, then give every lease back (call once intake stopped and drained)."""
        if self._saver is not None:
            self._saver.cancel()
            await asyncio.gather(self._saver, return_exceptions=True)
        if self.database is not None:
            await self.save_all()
        self.tokens.clear()
        await self.leases.stop()
