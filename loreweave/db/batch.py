"""A persistent actor's batch commit in one statement: claims, outbox, snapshot and the fence read.

A batch of frames commits the claims of its frame ids (:func:`loreweave.db.claim_frames`), the
frames its handlers emitted (:func:`loreweave.db.outbox.stage_frames`, with the rows published
since the last commit deleted), a snapshot of the actor's state
(:meth:`loreweave.db.StateStore.save_snapshot`) and, under a lease, a shared read of the
partition's fence (:func:`loreweave.db.check_fence`). Each in its own statement that is four or
five round trips, each waiting for the event loop between them; :func:`commit_batch` writes them
with data-modifying ``WITH`` clauses, in one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from loreweave.db.errors import QueryError
from loreweave.db.fencing import Connection
from loreweave.db.outbox import OutboxFrame


@dataclass(frozen=True, slots=True)
class BatchCommit:
    """What :func:`commit_batch` found.

    Attributes:
        claimed: how many of the frame ids were not claimed before.
        token: the partition's fence token, read under a shared lock (None: no fence asked,
            or no row for the partition).
    """

    claimed: int
    token: int | None


_COMMIT = """
WITH fence AS (
    SELECT token FROM partition_fences WHERE lease_bucket = $8 AND partition_id = $9 FOR SHARE
), claimed AS (
    INSERT INTO processed_frames (actor, frame_id) SELECT $1, unnest($2::text[])
    ON CONFLICT (actor, frame_id) DO NOTHING RETURNING 1
), gone AS (
    DELETE FROM frame_outbox WHERE actor = $1 AND frame_id = ANY($7::text[]) AND frame_id <> ALL($3::text[])
), staged AS (
    INSERT INTO frame_outbox (actor, frame_id, subject, data, headers)
    SELECT $1, f.id, f.subject, f.data, f.headers::jsonb
    FROM unnest($3::text[], $4::text[], $5::bytea[], $6::text[]) AS f(id, subject, data, headers)
    ON CONFLICT (actor, frame_id) DO NOTHING
), snapshot AS (
    INSERT INTO actor_snapshots (actor, key, state, stream_seq) VALUES ($1, '', $10, $11)
    ON CONFLICT (actor, key) DO UPDATE SET state = EXCLUDED.state, stream_seq = EXCLUDED.stream_seq, updated_at = now()
    WHERE actor_snapshots.stream_seq <= EXCLUDED.stream_seq
)
SELECT (SELECT count(*) FROM claimed) AS claimed, (SELECT token FROM fence) AS token
"""


async def commit_batch(
    conn: Connection,
    actor: str,
    *,
    state: bytes,
    stream_seq: int,
    claims: Sequence[str] = (),
    outbox: Sequence[OutboxFrame] = (),
    sent: Sequence[str] = (),
    fence: tuple[str, int] | None = None,
) -> BatchCommit:
    """Claim ``claims``, stage ``outbox``, forget ``sent`` and save the snapshot of ``actor``, in one statement.

    Must run inside the transaction that applies the frames; the caller compares what it found
    (claims taken before, a newer fence token) and rolls back when it must. The snapshot never
    goes back (an older ``stream_seq`` leaves a newer one as it is).

    Args:
        fence: ``(lease bucket, partition)`` whose token to read under a shared lock.

    Raises:
        QueryError: ``conn`` is not in a transaction, or ``stream_seq`` is negative.
    """
    if not conn.is_in_transaction():
        raise QueryError("commit_batch", "must run inside the transaction that applies the frames")
    if stream_seq < 0:
        raise QueryError("stream_seq", f"must be >= 0, got {stream_seq}")
    bucket, partition = fence if fence is not None else (None, None)
    row = await conn.fetchrow(
        _COMMIT,
        actor,
        list(claims),
        [frame.frame_id for frame in outbox],
        [frame.subject for frame in outbox],
        [frame.data for frame in outbox],
        [json.dumps(dict(frame.headers)) for frame in outbox],
        list(sent),
        bucket,
        partition,
        bytes(state),
        stream_seq,
    )
    return BatchCommit(claimed=int(row["claimed"]), token=row["token"])
