"""Persistent actors: state in PostgreSQL, committed with the ids of the frames that changed it.

A persistent actor reads all its ``@on`` subjects through one JetStream consumer and handles
frames one at a time in stream order. Frames are applied in batches; each batch commits in one
transaction: a claim per frame id, whatever the handlers wrote through ``ctx.conn``, the frames
they emitted (the outbox), and a snapshot of ``actor.state`` with the stream sequence it covers.
Then the emitted frames are published with JetStream acks, and only then are the consumed
frames acknowledged. On start (or after a failure) the consumer is re-created at the snapshot's
sequence + 1, so JetStream replays exactly the frames the snapshot does not cover; a frame id
claimed before (a duplicate publish) changes nothing. A handler that raises makes the batch roll
back and its frames run one per transaction, the failing one retried and then dead-lettered.

Frames can be lost between the server and this process (a cut connection drops bytes in
flight; the client or the server drops messages of a slow consumer) while the server counts
them as delivered. So a batch is applied only up to the first hole in the consumer's delivery
sequence (a fresh consumer numbers its deliveries 1, 2, 3...), and a redelivery or a hole makes
the runner re-create the consumer after its last commit: it never commits nor acks past a
frame it did not apply. When idle after a reconnect or a slow-consumer drop, it asks the server
whether deliveries are outstanding that never arrived (a lost tail) and re-reads them too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, AsyncIterator, Protocol, Sequence, runtime_checkable

import msgpack
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from loreweave.actors.runtime.actor import Actor, Context
from loreweave.actors.runtime.bus import EVENTS_STREAM, Bus
from loreweave.actors.runtime.dispatch import HandlerRunner
from loreweave.actors.runtime.pull import PullFeed
from loreweave.db import Database, claim_frame, claim_frames
from loreweave.db.batch import commit_batch
from loreweave.db.fencing import check_fence
from loreweave.db.outbox import OutboxFrame, delete_sent
from loreweave.protocol import Frame, FrameError, subject_matches

logger = logging.getLogger(__name__)


class HandlerFailed(Exception):
    """A handler raised inside a batch (the cause is chained)."""


class ClaimedBefore(Exception):
    """A frame of a batch applied before claiming had been claimed already: the batch rolls back."""


@runtime_checkable
class BatchHooks(Protocol):
    """What a persistent actor may add around each batch transaction, to read and write its rows
    once per batch rather than once per frame (its handlers then work on what it read).

    ``batch_started`` runs after the frames are claimed, before any handler, in every transaction
    (a batch, or one frame retried alone after a batch rolled back): it replaces whatever an
    earlier, rolled-back transaction left. ``batch_ending`` runs after the last handler and before
    the snapshot, in the same transaction; its writes commit or roll back with the frames.
    """

    async def batch_started(self, frames: Sequence[Frame], conn: Any) -> None:
        """Read (and lock) what the handlers of ``frames`` will need."""

    async def batch_ending(self, conn: Any) -> None:
        """Write what the handlers changed."""


def dump_state(actor: Actor) -> bytes:
    """Serialise an actor's state (its pydantic model ``actor.state`` -> msgpack)."""
    return msgpack.packb(actor.state.model_dump(mode="json"), use_bin_type=True)  # type: ignore[attr-defined]


def load_state(actor: Actor, data: bytes) -> None:
    """Restore an actor's state, of the model it has, from :func:`dump_state` bytes."""
    state = actor.state  # type: ignore[attr-defined]
    actor.state = type(state).model_validate(msgpack.unpackb(data, raw=False))  # type: ignore[attr-defined]


class PersistentRunner:
    """Feeds a persistent actor its frames in stream order and commits them with its state.

    Args:
        idle_check_s: while no frame comes, how often to ask the server whether deliveries
            went missing (also asked at once after a reconnect or a slow-consumer drop).
    """

    def __init__(
        self,
        actor: Actor,
        runners: list[HandlerRunner],
        bus: Bus,
        database: Database,
        *,
        attempts: int,
        ack_wait_s: float,
        retry_backoff_s: float = 0.05,
        idle_check_s: float = 5.0,
    ) -> None:
        self.actor = actor
        self.runners = runners
        self.bus = bus
        self.database = database
        self.attempts = attempts
        self.ack_wait_s = ack_wait_s
        self.retry_backoff_s = retry_backoff_s
        self.idle_check_s = idle_check_s
        self.instruments = runners[0].instruments
        self.consumer = f"persist-{actor.name}".replace(".", "_")
        self.committed_seq = 0
        #: Times frames went missing in transit and the stream was re-read from the last commit.
        self.gaps = 0
        self._committed_state = b""
        self._pending_state = b""
        self._pending_seq = 0
        self._staged: list[Frame] = []
        self._outbox_rows: list[OutboxFrame] = []
        #: Ids of outbox rows published and acknowledged, deleted with the next commit (or when idle).
        self._sent: list[str] = []
        #: The connection this runner's transactions use while it consumes (none to acquire per batch).
        self._conn: Any = None
        self._next_delivery = 1
        self._disruptions = 0
        #: ``(bucket, lease, token)`` when the actor runs under a lease: every commit checks it
        #: (:func:`loreweave.db.check_fence`), so a holder that lost its lease cannot commit.
        #: Set once a committed check recorded the token (as activation does), so each commit
        #: checks it with one shared read.
        self.fence: tuple[str, int, int] | None = None
        self._hooks = actor if isinstance(actor, BatchHooks) else None

    async def load(self) -> None:
        """Load the last snapshot (or start from a fresh state at sequence 0)."""
        snapshot = await self.database.state.load_snapshot(self.actor.name)
        if snapshot is not None:
            load_state(self.actor, snapshot.state)
            self.committed_seq = snapshot.stream_seq
        self._committed_state = dump_state(self.actor)
        logger.info("%s: state loaded at stream sequence %d", self.actor.name, self.committed_seq)

    async def _subscribe(self) -> PullFeed:
        try:
            await self.bus.js.delete_consumer(EVENTS_STREAM, self.consumer)
        except NotFoundError:
            pass
        config = ConsumerConfig(
            durable_name=self.consumer,
            ack_policy=AckPolicy.ALL,  # frames commit in stream order: acking the last acks all
            ack_wait=self.ack_wait_s,
            filter_subjects=[runner.spec.pattern for runner in self.runners],
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.committed_seq + 1,
            max_ack_pending=self.actor.persistence.max_batch * 4,
        )
        await self.bus.js.add_consumer(EVENTS_STREAM, config)
        self._next_delivery = 1  # a new consumer numbers its deliveries from 1
        self._disruptions = self._disruption_count()
        feed = PullFeed(self.bus.nc, EVENTS_STREAM, self.consumer, batch=self.actor.persistence.max_batch)
        return await feed.start()

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume and commit until ``stopping`` is set; restart re-reads from the last commit."""
        load_state(self.actor, self._committed_state)
        resent = await self.actor.outbox.resend()
        if resent:
            self.instruments.resent.add(resent, {"lw.actor": self.actor.name})
        while not stopping.is_set():
            pull = await self._subscribe()
            try:
                await self._consume(pull, stopping)
                await self._forget_sent()
            finally:
                await self._release()
                try:
                    await pull.unsubscribe()
                except Exception:
                    logger.debug("unsubscribe failed", exc_info=True)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Any]:
        # Batches in a row share one pooled connection (no acquire and reset per batch); it goes
        # back to the pool when the feed runs dry (see _consume), so an idle runner holds none.
        if self._conn is None:
            self._conn = await self.database.pool.acquire()
        async with self._conn.transaction():
            yield self._conn

    async def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await self.database.pool.release(conn)
            except Exception:  # the pool closes a connection it cannot reset; the next batch takes another
                logger.debug("%s: releasing the connection failed", self.actor.name, exc_info=True)

    async def _forget_sent(self) -> None:
        """Delete the outbox rows published since the last commit (when no commit comes to carry them)."""
        if self._sent:
            await delete_sent(self._conn or self.database.pool, self.actor.outbox.actor, self._sent)
            self._sent = []

    async def _consume(self, pull: Any, stopping: asyncio.Event) -> None:
        """Apply fetched frames until ``stopping``, or until a hole means re-reading from the last commit."""
        persistence = self.actor.persistence
        idle_since = time.monotonic()
        while not stopping.is_set():
            try:
                msgs = await pull.fetch(persistence.max_batch, timeout=persistence.interval_s)
            except asyncio.TimeoutError:  # nats-py raises its own subclass or the plain one
                msgs = []
            if not msgs:  # a fetch can also end on a status message with no frames
                await self._forget_sent()
                await self._release()
                now = time.monotonic()
                disrupted = self._disruption_count() != self._disruptions
                if (disrupted or now - idle_since >= self.idle_check_s) and await self._lost_tail():
                    return
                if now - idle_since >= self.idle_check_s:
                    idle_since = now
                continue
            idle_since = time.monotonic()
            applicable, hole = self._in_sequence(msgs)
            if applicable:
                await self._handle_batch(applicable)
            if hole is not None:
                self._count_gap(hole)
                return

    def _in_sequence(self, msgs: list[Msg]) -> tuple[list[Msg], Msg | None]:
        """The frames up to the first hole in the delivery sequence, and the frame after the hole."""
        for index, msg in enumerate(msgs):
            metadata = msg.metadata
            if metadata.sequence.consumer != self._next_delivery or metadata.num_delivered != 1:
                return msgs[:index], msg
            self._next_delivery += 1
        return msgs, None

    def _count_gap(self, hole: Msg) -> None:
        metadata = hole.metadata
        self._gap(
            f"delivery {self._next_delivery} expected, got {metadata.sequence.consumer} for stream seq"
            f" {metadata.sequence.stream}, delivered {metadata.num_delivered} times"
        )

    def _gap(self, what: str) -> None:
        """Count frames lost in transit (one log line with ``what`` was seen); the caller re-reads."""
        self.gaps += 1
        self.instruments.gaps.add(1, {"lw.actor": self.actor.name})
        logger.warning(
            "%s: frames lost in transit (%s); re-reading from stream seq %d",
            self.actor.name, what, self.committed_seq + 1,
        )

    def _disruption_count(self) -> int:
        return int(self.bus.nc.stats.get("reconnects", 0)) + self.bus.slow_consumer_drops

    async def _lost_tail(self) -> bool:
        """Whether the server counts deliveries this runner never got (then it re-reads)."""
        self._disruptions = self._disruption_count()
        try:
            info = await self.bus.js.consumer_info(EVENTS_STREAM, self.consumer)
        except Exception as exc:  # the connection is down: look again when it is back
            logger.debug("%s: consumer info failed: %s", self.actor.name, exc)
            return False
        if info.num_ack_pending:
            self._gap(f"{info.num_ack_pending} delivered but never received")
            return True
        return False

    def _route(self, subject: str) -> HandlerRunner | None:
        for runner in self.runners:
            if subject_matches(runner.spec.pattern, subject):
                return runner
        return None

    async def _decode(self, msgs: list[Msg]) -> list[tuple[Frame | None, Msg]]:
        decoded: list[tuple[Frame | None, Msg]] = []
        for msg in msgs:
            try:
                decoded.append((self.bus.decode(msg.data, msg.subject), msg))
            except FrameError as exc:
                await self.runners[0].dead_letter(msg, exc.code, str(exc))
                decoded.append((None, msg))
        return decoded

    async def _handle_batch(self, msgs: list[Msg]) -> None:
        batch = await self._decode(msgs)
        ids = [frame.id for frame, _ in batch if frame is not None]
        # A redelivered frame is rare: frames are claimed with the commit, in its one statement;
        # if one had been claimed before, the batch rolls back and runs again claiming first.
        await self._apply_batch(batch, ids, claim_first=len(set(ids)) != len(ids))

    async def _apply_batch(self, batch: list[tuple[Frame | None, Msg]], ids: list[str], *, claim_first: bool) -> None:
        self._staged = []
        try:
            async with self._transaction() as conn:
                fresh = await claim_frames(conn, self.actor.name, ids) if claim_first and ids else set(ids)
                if self._hooks is not None:
                    await self._hooks.batch_started([frame for frame, _ in batch if frame is not None], conn)
                for frame, msg in batch:
                    if frame is not None:
                        claimed = frame.id in fresh
                        fresh.discard(frame.id)  # a second copy in the same batch is a duplicate
                        await self._apply(frame, msg, conn, claimed=claimed)
                if self._hooks is not None:
                    await self._hooks.batch_ending(conn)
                await self._save(conn, batch[-1][1], claims=() if claim_first else ids)
        except ClaimedBefore:
            load_state(self.actor, self._committed_state)
            await self._apply_batch(batch, ids, claim_first=True)
            return
        except HandlerFailed:
            load_state(self.actor, self._committed_state)
            for frame, msg in batch:
                await self._handle_one(frame, msg)
            return
        except BaseException:
            load_state(self.actor, self._committed_state)
            raise
        await self._committed(batch)

    async def _apply(self, frame: Frame, msg: Msg, conn: Any, claimed: bool | None = None) -> None:
        if claimed is None:
            claimed = await claim_frame(conn, self.actor.name, frame.id)
        if not claimed:
            self.instruments.retried.add(1, {"lw.actor": self.actor.name})
            return
        runner = self._route(msg.subject)
        if runner is None:
            return
        ctx = Context(frame, self.actor, True, conn, handler=runner.spec.method)
        try:
            await runner.invoke(frame, msg, ctx)
        except Exception as exc:
            raise HandlerFailed(str(exc)) from exc
        if ctx.staged:
            self._staged.extend(ctx.staged)

    async def _handle_one(self, frame: Frame | None, msg: Msg) -> None:
        for attempt in range(1, self.attempts + 1):
            self._staged = []
            try:
                async with self._transaction() as conn:
                    if frame is not None:
                        if self._hooks is not None:
                            await self._hooks.batch_started([frame], conn)
                        await self._apply(frame, msg, conn)
                        if self._hooks is not None:
                            await self._hooks.batch_ending(conn)
                    await self._save(conn, msg)
            except HandlerFailed as exc:
                load_state(self.actor, self._committed_state)
                if attempt < self.attempts:
                    await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
                    continue
                assert frame is not None
                cause = exc.__cause__ or exc
                await self._route(msg.subject).dead_letter(  # type: ignore[union-attr]
                    msg, "handler_failed", f"{type(cause).__name__}: {cause}"
                )
                self._staged = []
                async with self._transaction() as conn:
                    await claim_frame(conn, self.actor.name, frame.id)
                    await self._save(conn, msg)
            except BaseException:
                load_state(self.actor, self._committed_state)
                raise
            await self._committed([(frame, msg)])
            return

    async def _save(self, conn: Any, last: Msg, claims: Sequence[str] = ()) -> None:
        """Commit ``claims``, the outbox and the snapshot in one statement, checking the fence in it."""
        self._outbox_rows = self.actor.outbox.encode(self._staged)
        self._pending_state = dump_state(self.actor)
        self._pending_seq = last.metadata.sequence.stream
        found = await commit_batch(
            conn, self.actor.name, state=self._pending_state, stream_seq=self._pending_seq, claims=claims,
            outbox=self._outbox_rows, sent=self._sent, fence=self.fence[:2] if self.fence is not None else None,
        )
        if self.fence is not None and found.token != self.fence[2]:
            bucket, lease, token = self.fence
            await check_fence(conn, lease, token, bucket=bucket)  # raises if a newer owner committed
        if found.claimed != len(claims):
            raise ClaimedBefore(f"{len(claims) - found.claimed} of {len(claims)} frames were applied before")

    async def _committed(self, batch: list[tuple[Frame | None, Msg]]) -> None:
        self._committed_state, self.committed_seq = self._pending_state, self._pending_seq
        # The emitted frames are stored by JetStream before the consumed ones are acked; if this
        # raises, the task restarts, publishes what the outbox still holds and re-reads after the commit.
        self._sent = []  # deleted by this commit
        await self.actor.outbox.publish(self._outbox_rows, forget=False)
        self._sent = [row.frame_id for row in self._outbox_rows]
        self._staged, self._outbox_rows = [], []
        await batch[-1][1].ack()
