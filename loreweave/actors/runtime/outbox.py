"""The publishing side of the transactional outbox: stage frames with a commit, publish them after it.

An actor that changes PostgreSQL and announces the change with events must not lose the
events when it dies between the commit and the publish. So the events are written to the
``frame_outbox`` table in the same transaction as the change (:meth:`Outbox.stage`), then
published with JetStream acknowledgements (:meth:`Outbox.publish`), and only then deleted.
Whatever a crash left behind is published again by :meth:`Outbox.resend` (on start, and
periodically), under the same ``Nats-Msg-Id``, so JetStream keeps one copy within its
duplicate window, and consumers that claim frame ids apply it once beyond it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Sequence

from loreweave.db.outbox import OutboxFrame, delete_sent, stage_frames, unsent_frames
from loreweave.protocol import Frame, frame_headers

if TYPE_CHECKING:
    from loreweave.actors.runtime.bus import Bus
    from loreweave.db import Database

logger = logging.getLogger(__name__)


class Outbox:
    """The outbox of one actor: frames committed with its effects, published once stored.

    Args:
        bus: where the frames are published (JetStream, with acks).
        database: where the outbox rows live.
        actor: whose outbox this is (rows are kept per actor).
        publish_timeout_s: how long one publish waits for JetStream's ack.
    """

    def __init__(self, bus: Bus, database: Database, actor: str, *, publish_timeout_s: float = 5.0) -> None:
        self.bus = bus
        self.database = database
        self.actor = actor
        self.publish_timeout_s = publish_timeout_s
        #: Frames published again after a crash or a failed publish, since start.
        self.resent = 0
        #: Whether rows may wait in the table: a publish failed since the last :meth:`resend`,
        #: or none ran since start (a crash may have left some). The node resends while set.
        self.dirty = True
        self._forgetting: list[str] = []
        self._forgetter: asyncio.Task[None] | None = None

    def encode(self, frames: Sequence[Frame]) -> list[OutboxFrame]:
        """Encode frames as outbox rows (with their trace context and ``Nats-Msg-Id``)."""
        return [OutboxFrame(frame.id, frame.subject, self.bus.encode(frame), frame_headers(frame)) for frame in frames]

    async def stage(self, conn: Any, frames: Sequence[Frame], *, sent: Sequence[str] = ()) -> list[OutboxFrame]:
        """Write ``frames`` in the caller's transaction; publish the result after it commits.

        ``sent``: ids of rows an earlier :meth:`publish` with ``forget=False`` published, deleted
        in the same statement.
        """
        rows = self.encode(frames)
        await stage_frames(conn, self.actor, rows, sent=sent)
        return rows

    async def publish(self, rows: Sequence[OutboxFrame], *, forget: bool = True) -> None:
        """Publish committed rows in order, wait for every JetStream ack, then delete them.

        With ``forget=False`` the rows stay until the caller deletes them (with its next
        :meth:`stage`, or :func:`loreweave.db.outbox.delete_sent`); a crash before that only
        publishes them again, under the same ids.

        Raises:
            Exception: whatever the publish raised (no ack in time, no stream); the rows stay
                in the outbox for :meth:`resend`.
        """
        if not rows:
            return
        try:
            # Published concurrently on one connection: the server stores them in the order sent.
            await asyncio.gather(*(
                self.bus.js.publish(row.subject, row.data, headers=dict(row.headers), timeout=self.publish_timeout_s)
                for row in rows
            ))
            if forget:
                await delete_sent(self.database.pool, self.actor, [row.frame_id for row in rows])
        except BaseException:
            self.dirty = True
            raise

    async def publish_committed(self, rows: Sequence[OutboxFrame]) -> bool:
        """:meth:`publish` the rows of a commit that stands whatever happens next: on failure,
        log one line and leave them for :meth:`resend` (the node retries within seconds).

        Returns:
            Whether they were published now.
        """
        try:
            await self.publish(rows, forget=False)
        except Exception as exc:
            logger.warning("%s: %d committed frames wait in the outbox: %r", self.actor, len(rows), exc)
            return False
        self.forget_soon([row.frame_id for row in rows])
        return True

    def forget_soon(self, frame_ids: Sequence[str]) -> None:
        """Delete published rows in the background, with those of other commits, in one statement.

        The caller (a request about to reply) does not wait for it, and the deletes of concurrent
        commits share one transaction; rows left by a crash before it are only published again.
        """
        self._forgetting.extend(frame_ids)
        if self._forgetter is None or self._forgetter.done():
            self._forgetter = asyncio.create_task(self._forget_pending(), name=f"outbox-forget-{self.actor}")

    async def _forget_pending(self) -> None:
        await asyncio.sleep(0)  # let the other commits of this turn of the loop add theirs
        while self._forgetting:
            ids, self._forgetting = self._forgetting, []
            try:
                await delete_sent(self.database.pool, self.actor, ids)
            except Exception as exc:  # the rows stay; resend publishes them again, under the same ids
                logger.warning("%s: %d published frames not deleted from the outbox: %r", self.actor, len(ids), exc)
                self.dirty = True
                return

    async def resend(self, *, older_than_s: float = 0.0, batch: int = 500) -> int:
        """Publish every row still in the outbox (oldest first); return how many were sent.

        ``older_than_s`` leaves alone rows staged so recently that their publisher may still be
        sending them (a second copy would be dropped by JetStream anyway, by its id).
        """
        sent = 0
        self.dirty = False
        while True:
            rows = await unsent_frames(self.database.pool, self.actor, limit=batch, older_than_s=older_than_s)
            if not rows:
                break
            await self.publish(rows)
            sent += len(rows)
            if len(rows) < batch:
                break
        if sent:
            self.resent += sent
            logger.info("%s: published %d frames left in the outbox", self.actor, sent)
        return sent
