"""Persistent actors: state in PostgreSQL, committed with the ids of the frames that changed it.

A persistent actor reads all its ``@on`` subjects through one ordered JetStream consumer and
handles frames one at a time in stream order. Frames are applied in batches; each batch commits
in one transaction: a claim per frame id, whatever the handlers wrote through ``ctx.conn``, and
a snapshot of ``actor.state`` with the stream sequence it covers. Only then are the frames
acknowledged. On start (or after a failure) the consumer is re-created at the snapshot's
sequence + 1, so JetStream replays exactly the frames the snapshot does not cover; a frame id
claimed before (a duplicate publish) changes nothing. A handler that raises makes the batch roll
back and its frames run one per transaction, the failing one retried and then dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgpack
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from loreweave.actors.runtime.actor import Actor, Context
from loreweave.actors.runtime.bus import EVENTS_STREAM, Bus
from loreweave.actors.runtime.dispatch import HandlerRunner
from loreweave.db import Database, claim_frame, claim_frames
from loreweave.protocol import Frame, FrameError, subject_matches

logger = logging.getLogger(__name__)


class HandlerFailed(Exception):
    """A handler raised inside a batch (the cause is chained)."""


def dump_state(actor: Actor) -> bytes:
    """Serialise a persistent actor's state (pydantic model -> msgpack)."""
    return msgpack.packb(actor.state.model_dump(mode="json"), use_bin_type=True)


def load_state(actor: Actor, data: bytes) -> None:
    """Restore a persistent actor's state from :func:`dump_state` bytes."""
    assert actor.State is not None
    actor.state = actor.State.model_validate(msgpack.unpackb(data, raw=False))


class PersistentRunner:
    """Feeds a persistent actor its frames in stream order and commits them with its state."""

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
    ) -> None:
        self.actor = actor
        self.runners = runners
        self.bus = bus
        self.database = database
        self.attempts = attempts
        self.ack_wait_s = ack_wait_s
        self.retry_backoff_s = retry_backoff_s
        self.consumer = f"persist-{actor.name}".replace(".", "_")
        self.committed_seq = 0
        self._committed_state = b""

    async def load(self) -> None:
        """Load the last snapshot (or start from a fresh state at sequence 0)."""
        snapshot = await self.database.state.load_snapshot(self.actor.name)
        if snapshot is not None:
            load_state(self.actor, snapshot.state)
            self.committed_seq = snapshot.stream_seq
        self._committed_state = dump_state(self.actor)
        logger.info("%s: state loaded at stream sequence %d", self.actor.name, self.committed_seq)

    async def _subscribe(self) -> Any:
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
        return await self.bus.js.pull_subscribe_bind(durable=self.consumer, stream=EVENTS_STREAM)

    async def run(self, stopping: asyncio.Event) -> None:
        """Consume and commit until ``stopping`` is set; restart re-reads from the last commit."""
        load_state(self.actor, self._committed_state)
        pull = await self._subscribe()
        try:
            while not stopping.is_set():
                try:
                    msgs = await pull.fetch(
                        self.actor.persistence.max_batch, timeout=self.actor.persistence.interval_s
                    )
                except asyncio.TimeoutError:  # nats-py raises its own subclass or the plain one
                    continue
                if msgs:  # a fetch can end on a status message with no frames
                    await self._handle_batch(msgs)
        finally:
            try:
                await pull.unsubscribe()
            except Exception:
                logger.debug("unsubscribe failed", exc_info=True)

    def _route(self, subject: str) -> HandlerRunner | None:
        for runner in self.runners:
            if subject_matches(runner.spec.pattern, subject):
                return runner
        return None

    async def _decode(self, msgs: list[Msg]) -> list[tuple[Frame | None, Msg]]:
        decoded: list[tuple[Frame | None, Msg]] = []
        for msg in msgs:
            try:
                decoded.append((self.bus.decode(msg.data), msg))
            except FrameError as exc:
                await self.runners[0].dead_letter(msg, exc.code, str(exc))
                decoded.append((None, msg))
        return decoded

    async def _handle_batch(self, msgs: list[Msg]) -> None:
        batch = await self._decode(msgs)
        try:
            async with self.database.state.transaction() as conn:
                ids = [frame.id for frame, _ in batch if frame is not None]
                fresh = await claim_frames(conn, self.actor.name, ids) if ids else set()
                for frame, msg in batch:
                    if frame is not None:
                        claimed = frame.id in fresh
                        fresh.discard(frame.id)  # a second copy in the same batch is a duplicate
                        await self._apply(frame, msg, conn, claimed=claimed)
                await self._save(conn, batch[-1][1])
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
            self.runners[0].instruments.retried.add(1, {"lw.actor": self.actor.name})
            return
        runner = self._route(msg.subject)
        if runner is None:
            return
        try:
            await runner.invoke(frame, msg, Context(frame, self.actor, True, conn))
        except Exception as exc:
            raise HandlerFailed(str(exc)) from exc

    async def _handle_one(self, frame: Frame | None, msg: Msg) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                async with self.database.state.transaction() as conn:
                    if frame is not None:
                        await self._apply(frame, msg, conn)
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
                async with self.database.state.transaction() as conn:
                    await claim_frame(conn, self.actor.name, frame.id)
                    await self._save(conn, msg)
            except BaseException:
                load_state(self.actor, self._committed_state)
                raise
            await self._committed([(frame, msg)])
            return

    async def _save(self, conn: Any, last: Msg) -> None:
        self._pending_state = dump_state(self.actor)
        self._pending_seq = last.metadata.sequence.stream
        await self.database.state.save_snapshot(
            self.actor.name, self._pending_state, self._pending_seq, conn=conn
        )

    async def _committed(self, batch: list[tuple[Frame | None, Msg]]) -> None:
        self._committed_state, self.committed_seq = self._pending_state, self._pending_seq
        await batch[-1][1].ack()
