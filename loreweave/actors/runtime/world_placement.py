"""World placement: every node runs the world-placed actors for the worlds of the partitions it owns.

Worlds hash into a fixed number of partitions (:mod:`.placement.partitions`); nodes share the
partitions by leases in NATS KV, fairly (:class:`~.placement.Placement`). The events stream
republishes every stored event under its world's partition (``lwp.<partition>.<world>...``, the
server's own ``partition()`` transform), and a node subscribes to the partitions it owns only:
each event reaches one node, which decodes it once and hands it to every handler of its
world-placed actors that matches. Requests (``lw.rpc.<world>...``) reach every node and are
answered by the owner only. So for each (actor, world) one activation handles frames, answers
requests and ticks timers (an actor's timers walk ``state.worlds``, which holds only the owned
worlds).

State that survives a move: every ``snapshot_every_s`` each owned world's entry of each actor
(``state.worlds[world]``) is saved in PostgreSQL (``actor_snapshots``, keyed by world) with the
ids of the frames that entry has applied lately, fenced by the partition's lease token. The
node taking a partition over (after a graceful hand-over or a crash) raises the fence, loads
the entries, then replays the partition's frames from the JetStream events stream from the
oldest snapshot's stream position, skipping the ids each snapshot already applied, while it
buffers the live frames of the partition; then it handles the buffer and goes live. A
snapshot's position is the stream sequence of the oldest frame of its partition still in hand
when it was taken (or the next one, when none was): a frame in hand however long, a frame
handled after the snapshot, a frame that came while nobody owned the partition, are all
applied once by the next owner. Live frames carry their sequence in the republished copy's
``Nats-Sequence`` header; snapshots saved before positions existed are replayed from
``replay_margin_s`` before their time.

A graceful hand-over (a node joins, or stops) stops intake for the partition, waits for the
frames in hand, saves and releases. A request for a world whose partition has no owner (in
the instant of a move) is answered with the retryable error ``unavailable``; one that arrives
while the new owner replays waits in the buffer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import msgpack
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from loreweave.actors.runtime.actor import Actor
from loreweave.actors.runtime.bus import EVENTS_STREAM, Bus
from loreweave.actors.runtime.dispatch import HandlerRunner
from loreweave.actors.runtime.placement import Placement, PlacementSettings, partition_of, world_of_subject
from loreweave.actors.runtime.world_state import WorldStates
from loreweave.db.fencing import StaleLeaseError, check_fence
from loreweave.protocol import SYSTEM_WORLD, Frame, FrameError, partition_pattern, subject_matches, unpartitioned

if TYPE_CHECKING:
    from loreweave.db import Database
    from loreweave.db.state import Snapshot

logger = logging.getLogger(__name__)

#: Ids of applied frames a world's snapshot keeps, at most (per actor).
MAX_SNAPSHOT_IDS = 5000
#: An unchanged world's snapshot is still refreshed this often, so a takeover replays little.
REFRESH_S = 60.0
#: Republished events a partition's subscription may hold before the client drops (and counts) them.
PENDING_PER_PARTITION = 65536
#: Seconds a takeover's replay waits for others to join it (partitions taken together share one read).
REPLAY_GATHER_S = 0.05
#: Default of ``replay_margin_s``.
REPLAY_MARGIN_S = 10.0
#: Header of a republished event that carries its stream sequence.
SEQUENCE_HEADER = "Nats-Sequence"


def stream_sequence(msg: Msg) -> int | None:
    """The events-stream sequence a republished message carries, if any."""
    value = msg.headers.get(SEQUENCE_HEADER) if msg.headers else None
    try:
        return int(value) if value else None
    except ValueError:
        return None


class WorldPlacement:
    """Runs a node's world-placed actors for the worlds it owns; see the module doc.

    Args:
        bus: the node's bus.
        actors: the world-placed actors of the node.
        runners: the event and request runners of those actors (their core subscriptions call
            :meth:`admit`).
        settings: partitions, lease TTL, buckets (every node of a cluster must agree).
        database: where world snapshots are kept; None: a moved world starts empty (tests only).
        snapshot_every_s: how often owned worlds are saved.
        replay_margin_s: how far before a snapshot saved without a stream position (by an
            older version) a takeover starts replaying.
    """

    def __init__(
        self,
        bus: Bus,
        actors: Iterable[Actor],
        runners: Iterable[HandlerRunner],
        settings: PlacementSettings,
        database: Database | None,
        *,
        snapshot_every_s: float = 2.0,
        replay_margin_s: float | None = None,
    ) -> None:
        self.bus = bus
        self.states = {actor.name: WorldStates(actor) for actor in actors}
        self.runners = list(runners)
        self._event_runners = [r for r in self.runners if r.spec.kind == "event"]
        self._by_actor: dict[str, list[HandlerRunner]] = {}
        for runner in self.runners:
            self._by_actor.setdefault(runner.actor.name, []).append(runner)
            runner.on_done = self._done
        self.settings = settings
        self.database = database
        self.snapshot_every_s = snapshot_every_s
        self.replay_margin_s = REPLAY_MARGIN_S if replay_margin_s is None else replay_margin_s
        #: How long an applied frame's id is kept for the snapshots: a replay starts at most
        #: ``replay_margin_s`` before a snapshot, which is at most ``snapshot_every_s`` old.
        self._id_horizon_s = 2 * self.replay_margin_s + snapshot_every_s
        self._count = settings.partitions
        self.placement = Placement(
            bus.js, settings=settings, on_acquired=self._acquired, on_lost=self._lost, drain=self._drain,
        )
        self.placement.leases.weight = self.worlds_in
        #: Partitions whose frames this node takes now.
        self._live: set[int] = set()
        #: Partitions being taken over: live frames wait here until the replay is done.
        self._buffers: dict[int, deque[tuple[HandlerRunner | None, Msg]]] = {}
        #: Owned (or being taken over) partition -> its subscription to the republished events.
        self._subscriptions: dict[int, Subscription] = {}
        self._patterns = [(runner, runner.spec.pattern) for runner in self._event_runners]
        # Which runners take a subject depends on its domain and event only when every pattern
        # leaves the world open (``lw.*...``): then it is worked out once per event type.
        self._by_type = all(pattern.split(".")[1:2] == ["*"] for _, pattern in self._patterns)
        self._matching: dict[str, list[HandlerRunner]] = {}
        self._inflight: dict[int, int] = {}
        self._idle: dict[int, asyncio.Event] = {}
        #: (actor, world) -> (stream sequence or 0, monotonic time, frame id) of frames applied lately.
        self._applied: dict[tuple[str, str], deque[tuple[int, float, str]]] = {}
        #: Partition -> frame id -> [stream sequence, handlers yet to finish it]: the frames in hand.
        self._in_hand: dict[int, dict[str, list[int]]] = {}
        #: Partition -> the highest stream sequence of it this node took (live or replayed).
        self._seen_seq: dict[int, int] = {}
        #: Partition -> the stream position of its last snapshot (applied ids below it are dropped).
        self._marks: dict[int, int] = {}
        #: (actor, world) -> stream sequence below which a replayed frame is in its snapshot already.
        self._floor_seq: dict[tuple[str, str], int] = {}
        #: (actor, world) -> (what was last saved, when).
        self._saved: dict[tuple[str, str], tuple[bytes, float]] = {}
        self._saver: asyncio.Task[None] | None = None
        #: (actor, world) -> wall time before which a replayed frame is in its snapshot (no position saved).
        self._replay_floor: dict[tuple[str, str], float] = {}
        self._save_lock = asyncio.Lock()
        self._load_lock = asyncio.Lock()
        self._snapshot_cache: tuple[float, list[Snapshot], int] | None = None
        self._replays: dict[int, tuple[float, int | None, asyncio.Future[None]]] = {}
        self._replayer: asyncio.Task[None] | None = None
        self._weights: dict[int, int] = {}
        self._weights_at = 0.0
        #: Seconds each takeover took from lease to live (for the scale-out benchmark).
        self.takeovers: list[float] = []

    # -- the per-frame question ---------------------------------------------------------------

    def partition_of(self, world: str) -> int:
        """The partition of ``world`` in this cluster."""
        return partition_of(world, self._count)

    def owned_worlds(self) -> set[str]:
        """The worlds this node runs now (those its actors know, in live partitions)."""
        return {
            world for states in self.states.values() for world in states.worlds
            if self.partition_of(world) in self._live
        }

    def worlds_in(self, partition: int) -> int:
        """How many worlds of ``partition`` this node's actors know (its weight for the balancer).

        Counted for every partition at once, at most once a second (renewals ask per partition).
        """
        if partition not in self._live:  # still loading: what its last holder reported
            return self.placement.leases.last_weight.get(partition, 0)
        now = time.monotonic()
        if now - self._weights_at > 1.0:
            worlds = {w for states in self.states.values() for w in states.worlds}
            counts: dict[int, int] = {}
            for world in worlds:
                counts[self.partition_of(world)] = counts.get(self.partition_of(world), 0) + 1
            self._weights, self._weights_at = counts, now
        return self._weights.get(partition, 0)

    def _holds(self, partition: int) -> bool:
        lease = self.placement.leases.held.get(partition)
        return lease is not None and lease.deadline > time.monotonic()

    async def admit(self, runner: HandlerRunner, msg: Msg) -> None:
        """Offer a request (or a frame of a core subscription) to its runner if this node owns its
        world now; else buffer it (a takeover in progress), answer ``unavailable`` (a move) or drop it."""
        world = world_of_subject(msg.subject)
        if world is None:  # a system subject: no world to own; every node's copy takes it
            await runner.offer(msg)
            return
        partition = self.partition_of(world)
        buffer = self._buffers.get(partition)
        if buffer is not None:
            buffer.append((runner, msg))
        elif partition in self._live and self._holds(partition):
            await self._offer(partition, runner, msg)
        elif runner.spec.kind == "request" and self._moving(partition):
            await runner.reply_unavailable(msg, world)

    def _partition_intake(self, partition: int) -> Callable[[Msg], Awaitable[None]]:
        async def take(msg: Msg) -> None:
            buffer = self._buffers.get(partition)
            if buffer is not None:
                buffer.append((None, msg))
            elif partition in self._live and self._holds(partition):
                await self._dispatch(partition, unpartitioned(msg.subject), msg, seq=stream_sequence(msg))
            # else: being handed over or lost; the next owner replays it from the stream

        return take

    async def _dispatch(
        self, partition: int, subject: str, msg: Msg, stored_at: float | None = None, seq: int | None = None
    ) -> None:
        """Decode an event once and queue it for every matching handler of the world-placed actors.

        ``seq`` (its events-stream sequence) keeps it counted as in hand until every handler is
        done, and skips the actors whose snapshot of the frame's world starts after it; a
        replayed frame's ``stored_at`` does the same for snapshots without a position.
        """
        if seq is not None and seq > self._seen_seq.get(partition, 0):
            self._seen_seq[partition] = seq
        runners = self._runners_for(subject)
        if not runners:  # an event no handler here takes (the actors' own emissions, mostly): not decoded
            return
        try:
            frame = self.bus.decode(msg.data, subject)
        except FrameError as exc:
            logger.warning("dead letter %s from %s: %s", exc.code, subject, exc)
            await self.bus.dead_letter(msg.data, subject, exc.code, str(exc))
            return
        view = msg if msg.subject == subject else Msg(msg._client, subject, "", msg.data, msg.headers)
        hand = self._in_hand.setdefault(partition, {}) if seq is not None else None
        for runner in runners:
            key = (runner.actor.name, frame.world)
            if seq is not None and seq < self._floor_seq.get(key, 0):
                continue
            if stored_at is not None and stored_at < self._replay_floor.get(key, 0.0):
                continue
            if hand is not None:  # before the offer: the handler may be done before it returns
                entry = hand.get(frame.id)
                if entry is None:
                    hand[frame.id] = [seq, 1]  # type: ignore[list-item]
                else:
                    entry[1] += 1
            self._started(partition)
            if not await runner.offer_frame(frame, view):
                self._finished(partition)
                self._let_go(partition, frame.id)

    def _runners_for(self, subject: str) -> list[HandlerRunner]:
        """The event runners whose pattern matches ``subject``, in declaration order."""
        if not self._by_type:
            return [runner for runner, pattern in self._patterns if subject_matches(pattern, subject)]
        event_type = subject.split(".", 2)[2]
        found = self._matching.get(event_type)
        if found is None:
            found = self._matching[event_type] = [
                runner for runner, pattern in self._patterns if subject_matches(pattern, subject)
            ]
        return found

    def _moving(self, partition: int) -> bool:
        """Held here but not taking frames (being handed over), or held by nobody."""
        leases = self.placement.leases
        return partition in leases.held or partition not in leases.owners

    async def _offer(self, partition: int, runner: HandlerRunner, msg: Msg) -> None:
        self._started(partition)
        if not await runner.offer(msg):
            self._finished(partition)

    def _started(self, partition: int) -> None:
        """A frame of ``partition`` is in hand (until :meth:`_finished`): a hand-over waits for it."""
        self._inflight[partition] = self._inflight.get(partition, 0) + 1
        self._idle.setdefault(partition, asyncio.Event()).clear()

    def _finished(self, partition: int) -> None:
        left = self._inflight[partition] = self._inflight.get(partition, 1) - 1
        if left <= 0:
            self._inflight.pop(partition, None)
            idle = self._idle.get(partition)
            if idle is not None:
                idle.set()

    def _let_go(self, partition: int, frame_id: str) -> int:
        """One handler is done with a frame in hand; its stream sequence (0: not known)."""
        hand = self._in_hand.get(partition)
        entry = hand.get(frame_id) if hand else None
        if entry is None:
            return 0
        entry[1] -= 1
        if entry[1] <= 0:
            del hand[frame_id]  # type: ignore[union-attr]
        return entry[0]

    def _done(self, runner: HandlerRunner, frame: Frame, applied: bool) -> None:
        if frame.world == SYSTEM_WORLD:
            return
        partition = self.partition_of(frame.world)
        seq = self._let_go(partition, frame.id)
        if applied:
            key = (runner.actor.name, frame.world)
            ids = self._applied.get(key)
            if ids is None:
                ids = self._applied[key] = deque(maxlen=MAX_SNAPSHOT_IDS)
            now = time.monotonic()
            ids.append((seq, now, frame.id))
            # Only what a takeover's replay can meet again is kept: at or past the snapshot's
            # position (ids without a position: for as long as a time-based replay looks back).
            mark, horizon = self._marks.get(partition, 0), now - self._id_horizon_s
            while ids and ids[0][1] < horizon and (ids[0][0] == 0 or ids[0][0] < mark):
                ids.popleft()
        if partition in self._inflight:
            self._finished(partition)

    # -- life -----------------------------------------------------------------------------------

    async def start(self, wait_s: float | None = None) -> None:
        """Join the placement and wait (at most ``wait_s``, default 10 s or two TTLs) for this node's fair share."""
        await self.placement.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (wait_s if wait_s is not None else max(10.0, 2 * self.settings.lease_ttl))
        while loop.time() < deadline:
            target = self.placement.target
            if target and len(self._live) >= target and len(self.placement.owned) >= target:
                break
            await asyncio.sleep(0.05)
        if self.database is not None:
            self._saver = asyncio.create_task(self._save_periodically(), name="world-snapshots")

    async def stop(self) -> None:
        """Hand every partition over (drain, save, release) and leave the placement."""
        if self._saver is not None:
            self._saver.cancel()
            await asyncio.gather(self._saver, return_exceptions=True)
        await self.placement.stop()

    # -- taking a partition over ----------------------------------------------------------------

    async def _acquired(self, partition: int, token: int) -> None:
        started = time.monotonic()
        self._buffers[partition] = deque()
        try:
            if self._event_runners:
                self._subscriptions[partition] = await self.bus.nc.subscribe(
                    partition_pattern(partition), cb=self._partition_intake(partition),
                    pending_msgs_limit=PENDING_PER_PARTITION,
                )
            since, since_seq = await self._restore(partition, token)
            if self.placement.leases.held.get(partition) is None:
                raise RuntimeError("lost while restoring")
            await self._replay(partition, since, since_seq)
            buffer = self._buffers.get(partition)
            while buffer:  # live frames that came meanwhile, in arrival order; more may still come
                runner, msg = buffer.popleft()
                if runner is None:
                    await self._dispatch(partition, unpartitioned(msg.subject), msg, seq=stream_sequence(msg))
                else:
                    await self._offer(partition, runner, msg)
        except Exception:
            self._lost(partition)
            raise
        if self._buffers.pop(partition, None) is None:
            return  # lost meanwhile
        self._live.add(partition)
        self.takeovers.append(time.monotonic() - started)
        logger.debug("partition %d live on this node (token %d)", partition, token)

    async def _restore(self, partition: int, token: int) -> tuple[float, int | None]:
        """Fence, load the partition's world snapshots; where to replay from: a wall time, and
        the stream sequence when every snapshot has its position (then the time is not used)."""
        fallback = time.time() - (self.settings.lease_ttl + 2 * self.snapshot_every_s + self.replay_margin_s)
        if self.database is None:
            return fallback, None
        async with self.database.state.transaction() as conn:
            await check_fence(conn, partition, token, bucket=self.settings.lease_bucket)
        snapshots, last = await self._snapshots(after=time.monotonic())
        oldest: float | None = None
        positions: list[int | None] = []
        entries: dict[str, dict[str, bytes]] = {}
        for snapshot in snapshots:
            if snapshot.actor not in self.states or self.partition_of(snapshot.key) != partition:
                continue
            saved = msgpack.unpackb(snapshot.state, raw=False)
            entries.setdefault(snapshot.actor, {})[snapshot.key] = saved["s"]
            position = saved.get("seq")
            if position and position > last + 1:  # saved against an events stream since deleted and made anew
                logger.warning("snapshot of %s/%s stands at stream sequence %d, past the stream's last (%d): "
                               "replaying it by time", snapshot.actor, snapshot.key, position, last)
                position = None
            positions.append(position)
            if position:
                self._floor_seq[(snapshot.actor, snapshot.key)] = position
            else:
                self._replay_floor[(snapshot.actor, snapshot.key)] = saved["at"] - self.replay_margin_s
            for runner in self._by_actor.get(snapshot.actor, ()):
                for frame_id in saved["ids"]:
                    runner.recent.add(frame_id)
            oldest = saved["at"] if oldest is None else min(oldest, saved["at"])
        for name, worlds in entries.items():
            self.states[name].load(worlds)
        if oldest is None:
            return fallback, None
        since = min(oldest - self.replay_margin_s, time.time())
        if any(not position for position in positions):
            return since, None
        start = min(p for p in positions if p)
        self._seen_seq[partition] = max(self._seen_seq.get(partition, 0), start - 1)
        return since, start

    async def _snapshots(self, after: float) -> tuple[list[Snapshot], int]:
        """Every world snapshot of these actors, read after ``after`` (monotonic), and the events
        stream's last sequence read then: partitions taken over together (a node starting) share
        one read made after each one's fence."""
        assert self.database is not None
        async with self._load_lock:
            cached = self._snapshot_cache
            if cached is not None and cached[0] >= after:
                return cached[1], cached[2]
            read_at = time.monotonic()
            snapshots = await self.database.state.load_keyed_snapshots(list(self.states))
            last = (await self.bus.js.stream_info(EVENTS_STREAM)).state.last_seq
            self._snapshot_cache = (read_at, snapshots, last)
            return snapshots, last

    async def _replay(self, partition: int, since: float, since_seq: int | None = None) -> None:
        """Offer the partition's stored frames from stream sequence ``since_seq`` (or, without
        one, since ``since``, wall time) to the event runners.

        Partitions taken over together (a node starting, a node dying) share one read of the
        stream: requests that arrive while a read is being prepared join it.
        """
        if not self._event_runners:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._replays[partition] = (since, since_seq, done)
        if self._replayer is None or self._replayer.done():
            self._replayer = asyncio.create_task(self._replay_batches(), name="world-replay")
        await done

    async def _replay_batches(self) -> None:
        while self._replays:
            await asyncio.sleep(REPLAY_GATHER_S)
            batch, self._replays = self._replays, {}
            try:
                by_seq = {p: since_seq for p, (_, since_seq, _) in batch.items() if since_seq is not None}
                by_time = {p: since for p, (since, since_seq, _) in batch.items() if since_seq is None}
                for starts, sequenced in ((by_seq, True), (by_time, False)):
                    if starts:
                        await self._replay_once(starts, sequenced)
            except Exception as exc:
                for _, _, done in batch.values():
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, _, done in batch.values():
                if not done.done():
                    done.set_result(None)

    async def _replay_once(self, partitions: dict[int, float] | dict[int, int], sequenced: bool) -> None:
        """One read of the events stream for ``partitions`` (partition -> start: a stream sequence
        when ``sequenced``, else a wall time)."""
        info = await self.bus.js.stream_info(EVENTS_STREAM)
        last = info.state.last_seq
        for partition in partitions:  # all of it up to ``last`` is replayed or in a snapshot
            self._seen_seq[partition] = max(self._seen_seq.get(partition, 0), last)
        if not info.state.messages:
            return
        first = min(partitions.values())
        if sequenced:
            start = {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": max(1, int(first))}
        else:
            start = {"deliver_policy": DeliverPolicy.BY_START_TIME,
                     "opt_start_time": datetime.fromtimestamp(first, timezone.utc)}
        config = ConsumerConfig(
            ack_policy=AckPolicy.NONE, inactive_threshold=30.0, filter_subject="lw.*.*.*", **start,  # type: ignore[arg-type]
        )
        pull = await self.bus.js.pull_subscribe("lw.*.*.*", stream=EVENTS_STREAM, config=config)
        replayed = 0
        try:
            if (await pull.consumer_info()).num_pending == 0:
                return
            while True:
                try:
                    msgs = await pull.fetch(512, timeout=0.5)
                except asyncio.TimeoutError:
                    break
                done = False
                for msg in msgs:
                    meta = msg.metadata
                    done = meta.sequence.stream >= last
                    world = world_of_subject(msg.subject)
                    if world is None:
                        continue
                    partition = self.partition_of(world)
                    since = partitions.get(partition)
                    seq, stored_at = meta.sequence.stream, meta.timestamp.timestamp()
                    if since is None or partition not in self._buffers or (seq if sequenced else stored_at) < since:
                        continue
                    await self._dispatch(partition, msg.subject, msg, stored_at, seq)
                    replayed += 1
                if done or not msgs:
                    break
        finally:
            try:
                await pull.unsubscribe()
            except Exception:
                logger.debug("replay consumer unsubscribe failed", exc_info=True)
        if replayed:
            logger.info("partitions %s: replayed %d frames from the events stream", sorted(partitions), replayed)

    # -- giving a partition up ------------------------------------------------------------------

    def _lost(self, partition: int) -> None:
        """Stop at once: the lease is gone (another node may run these worlds already)."""
        self._stop_intake(partition)
        self._forget(partition)

    def _stop_intake(self, partition: int) -> None:
        self._live.discard(partition)
        self._buffers.pop(partition, None)
        self._unsubscribe(partition)

    def _unsubscribe(self, partition: int) -> None:
        subscription = self._subscriptions.pop(partition, None)
        if subscription is not None:
            task = asyncio.ensure_future(subscription.unsubscribe())
            task.add_done_callback(lambda done: done.exception())  # a closed connection: nothing to undo

    async def _drain(self, partition: int) -> None:
        """A graceful hand-over: stop intake, finish what is in hand, save, forget."""
        self._stop_intake(partition)
        if partition in self._inflight:
            idle = self._idle.setdefault(partition, asyncio.Event())
            try:
                await asyncio.wait_for(idle.wait(), self.settings.drain_timeout / 2)
            except asyncio.TimeoutError:
                logger.warning("partition %d: frames still in hand after %gs; saving anyway",
                               partition, self.settings.drain_timeout / 2)
        lease = self.placement.leases.held.get(partition)
        if lease is not None and self.database is not None:
            await self._save({partition: lease.token}, force=True)
        self._forget(partition)

    def _forget(self, partition: int) -> None:
        for name, states in self.states.items():
            gone = [world for world in states.worlds if self.partition_of(world) == partition]
            states.drop(gone)
            for world in gone:
                self._saved.pop((name, world), None)
                self._applied.pop((name, world), None)
                self._replay_floor.pop((name, world), None)
                self._floor_seq.pop((name, world), None)
        self._in_hand.pop(partition, None)
        self._seen_seq.pop(partition, None)
        self._marks.pop(partition, None)

    # -- snapshots --------------------------------------------------------------------------------

    async def _save_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.snapshot_every_s)
            owned = {p: lease.token for p, lease in self.placement.leases.held.items() if p in self._live}
            try:
                await self._save(owned)
            except Exception:
                logger.warning("saving world snapshots failed (next round tries again)", exc_info=True)

    def position(self, partition: int) -> int | None:
        """Where a snapshot of ``partition`` taken now stands in the events stream: the sequence
        of its oldest frame in hand, or the one after the newest it took; None before any."""
        hand = self._in_hand.get(partition)
        if hand:
            return min(entry[0] for entry in hand.values())
        seen = self._seen_seq.get(partition)
        return None if seen is None else seen + 1

    async def _save(self, partitions: dict[int, int], *, force: bool = False) -> None:
        """Save the changed worlds of ``partitions`` (partition -> token), each fenced by its token."""
        assert self.database is not None
        async with self._save_lock:
            now, wall = time.monotonic(), time.time()
            # Taken with the dumps below, with nothing awaited in between: one consistent cut.
            positions = {partition: self.position(partition) for partition in partitions}
            rows: dict[int, list[tuple[str, str, bytes]]] = {}
            saved: list[tuple[tuple[str, str], bytes]] = []
            for name, states in self.states.items():
                for world in list(states.worlds):
                    partition = self.partition_of(world)
                    if partition not in partitions:
                        continue
                    data = states.dump(world)
                    if data is None:
                        continue
                    position = positions[partition]
                    ids = [
                        frame_id for seq, at, frame_id in self._applied.get((name, world), ())
                        if (seq >= position if seq and position else at >= now - self._id_horizon_s)
                    ]
                    content = msgpack.packb([data, ids], use_bin_type=True)
                    last = self._saved.get((name, world))
                    if not force and last is not None and last[0] == content and now - last[1] < REFRESH_S:
                        continue
                    saved_entry: dict[str, object] = {"s": data, "at": wall, "ids": ids}
                    if position:
                        saved_entry["seq"] = position
                    blob = msgpack.packb(saved_entry, use_bin_type=True)
                    rows.setdefault(partition, []).append((name, world, blob))
                    saved.append(((name, world), content))
            if not rows:
                return
            stale: set[int] = set()
            for partition, batch in rows.items():
                try:
                    async with self.database.state.transaction() as conn:
                        await check_fence(conn, partition, partitions[partition], bucket=self.settings.lease_bucket)
                        await self.database.state.save_keyed_snapshots(batch, conn=conn)
                except StaleLeaseError:
                    stale.add(partition)
            for key, content in saved:
                if self.partition_of(key[1]) not in stale:
                    self._saved[key] = (content, now)
            for partition in rows:
                position = positions[partition]
                if partition not in stale and position:
                    self._marks[partition] = position
            for partition in stale:
                logger.warning("partition %d: a newer owner committed; stopping it here", partition)
                self._lost(partition)
