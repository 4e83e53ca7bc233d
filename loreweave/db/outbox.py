"""The frame outbox (``frame_outbox``): emitted frames committed with the effects they announce.

Rows are written inside the transaction of the effect (:func:`stage_frames`), read back after
the commit or on start (:func:`unsent_frames`), and deleted once JetStream acknowledged them
(:func:`delete_sent`). See :class:`loreweave.actors.runtime.Outbox` for the publishing side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping, Sequence

from loreweave.db.errors import QueryError
from loreweave.db.state import Executor


@dataclass(frozen=True, slots=True)
class OutboxFrame:
    """One encoded frame waiting for its publish acknowledgement."""

    frame_id: str
    subject: str
    data: bytes
    headers: Mapping[str, str]


async def stage_frames(
    conn: Executor, actor: str, frames: Sequence[OutboxFrame], *, sent: Sequence[str] = ()
) -> None:
    """Write ``frames`` to the outbox of ``actor`` in one statement (and forget ``sent`` in it).

    Must run in the transaction that commits the effects the frames announce; a frame id
    already staged by ``actor`` is kept as it was (a re-run stages the same ids). ``sent`` are
    ids of frames published and acknowledged since an earlier commit (see :func:`delete_sent`):
    deleting them here saves a transaction of their own.

    Raises:
        QueryError: when ``conn`` is not a connection in a transaction.
    """
    if not frames and not sent:
        return
    in_transaction = getattr(conn, "is_in_transaction", None)
    if in_transaction is None or not in_transaction():
        raise QueryError("stage_frames", "must run inside the transaction that commits the frames' effects")
    await conn.execute(
        "WITH gone AS (DELETE FROM frame_outbox WHERE actor = $1 AND frame_id = ANY($6::text[])"
        " AND frame_id <> ALL($2::text[]))"
        " INSERT INTO frame_outbox (actor, frame_id, subject, data, headers)"
        " SELECT $1, f.id, f.subject, f.data, f.headers::jsonb"
        " FROM unnest($2::text[], $3::text[], $4::bytea[], $5::text[]) AS f(id, subject, data, headers)"
        " ON CONFLICT (actor, frame_id) DO NOTHING",
        actor,
        [frame.frame_id for frame in frames],
        [frame.subject for frame in frames],
        [frame.data for frame in frames],
        [json.dumps(dict(frame.headers)) for frame in frames],
        list(sent),
    )


async def unsent_frames(conn: Executor, actor: str, *, limit: int = 1000, older_than_s: float = 0.0) -> list[OutboxFrame]:
    """The oldest ``limit`` frames of ``actor`` not yet acknowledged, in the order they were staged.

    ``older_than_s`` skips frames staged more recently (a publisher may be sending them now).
    """
    rows = await conn.fetch(
        "SELECT frame_id, subject, data, headers::text AS headers FROM frame_outbox"
        " WHERE actor = $1 AND created_at <= now() - make_interval(secs => $3)"
        " ORDER BY seq LIMIT $2",
        actor,
        limit,
        older_than_s,
    )
    return [
        OutboxFrame(row["frame_id"], row["subject"], bytes(row["data"]), json.loads(row["headers"]))
        for row in rows
    ]


async def delete_sent(conn: Executor, actor: str, frame_ids: Sequence[str]) -> int:
    """Forget frames of ``actor`` that JetStream acknowledged; return how many rows went."""
    if not frame_ids:
        return 0
    status = await conn.execute(
        "DELETE FROM frame_outbox WHERE actor = $1 AND frame_id = ANY($2::text[])", actor, list(frame_ids)
    )
    return int(status.rsplit(" ", 1)[-1])
