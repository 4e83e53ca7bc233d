"""The journal actor: writes the story's history to PostgreSQL.

Narrative beats, NPC lines, quest outcomes and purchases are kept, queryable by world, time,
type and correlation id (``loreweave history WORLD``). The actor is persistent, so each frame
is journaled exactly once, in the transaction that records it as applied: the frames of a batch
are written together, in one statement, at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from loreweave.actors.runtime import Actor, Context, Persistence, on
from loreweave.protocol import Frame
from loreweave.schemas import Event

#: Subjects whose frames make up the story's history.
JOURNALED_SUBJECTS = (
    "lw.*.narrative.>",
    "lw.*.npc.said",
    "lw.*.quest.accepted",
    "lw.*.quest.completed",
    "lw.*.quest.failed",
    "lw.*.payment.succeeded",
    "lw.*.payment.refunded",
)


class JournalCount(BaseModel):
    """How many frames the journal has written."""

    written: int = 0


class Journal(Actor):
    """Appends every story frame to the ``event_journal`` table."""

    name = "journal"
    State = JournalCount
    persistence = Persistence(interval_s=0.25, max_batch=512)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The story frames of the batch being applied (None: not in a batch, write each at once).
        self._frames: list[Frame] | None = None

    async def batch_started(self, frames: Sequence[Frame], conn: Any) -> None:
        """Start collecting the batch's story frames."""
        self._frames = []

    async def batch_ending(self, conn: Any) -> None:
        """Journal the batch's story frames in one statement."""
        frames, self._frames = self._frames, None
        if frames:
            self.state.written += await self.database.journal.append_many(frames, conn=conn)

    @on(JOURNALED_SUBJECTS[0])
    @on(JOURNALED_SUBJECTS[1])
    @on(JOURNALED_SUBJECTS[2])
    @on(JOURNALED_SUBJECTS[3])
    @on(JOURNALED_SUBJECTS[4])
    @on(JOURNALED_SUBJECTS[5])
    @on(JOURNALED_SUBJECTS[6])
    async def record(self, event: Event, ctx: Context) -> None:
        """Journal the frame in the transaction that claims it (at the batch's end)."""
        if self._frames is not None:
            self._frames.append(ctx.frame)
        elif await self.database.journal.append(ctx.frame, conn=ctx.conn):
            self.state.written += 1
