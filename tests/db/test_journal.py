"""The event journal: idempotent appends and filtered queries."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from loreweave.db import Journal, JournalEntry, QueryError
from loreweave.protocol.errors import SubjectError
from loreweave.protocol.frame import Frame
from loreweave.protocol.ids import new_frame_id

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)


def entry(world: str = "w1", type: str = "npc.said", at: float = 0, **fields: Any) -> JournalEntry:
    frame_id = fields.pop("frame_id", None) or new_frame_id()
    return JournalEntry(
        frame_id=frame_id,
        world=world,
        type=type,
        ts=T0 + timedelta(seconds=at),
        source=fields.pop("source", "npc"),
        correlation_id=fields.pop("correlation_id", frame_id),
        causation_id=fields.pop("causation_id", None),
        payload=fields.pop("payload", {"text": "hello"}),
    )


async def test_append_is_idempotent_on_frame_id(journal: Journal) -> None:
    first = entry(payload={"text": "first"})

    assert await journal.append(first)
    assert not await journal.append(replace(first, payload={"text": "second"}, type="npc.moved"))
    assert await journal.get(first.frame_id) == first


async def test_batch_append_counts_only_new_frames(journal: Journal) -> None:
    known = entry(at=0)
    await journal.append(known)
    fresh = [entry(at=i) for i in range(1, 4)]

    assert await journal.append_many([known, *fresh, fresh[0]]) == 3
    assert await journal.append_many([]) == 0
    assert [e.frame_id for e in await journal.query("w1")] == [known.frame_id] + [e.frame_id for e in fresh]


async def test_a_frame_is_journaled_as_emitted(journal: Journal) -> None:
    class Said:
        def to_wire(self) -> dict[str, Any]:
            return {"npc_id": "mira", "text": "Good morning"}

    cause = Frame(type="player.spoke", world="w2", payload={"text": "hi"}, source="game-server")
    reply = cause.caused("npc.said", Said(), source="npc", index=0)

    assert await journal.append_many([cause, reply]) == 2
    stored = await journal.get(reply.id)

    assert stored is not None
    assert stored.payload == {"npc_id": "mira", "text": "Good morning"}
    assert (stored.correlation_id, stored.causation_id) == (cause.id, cause.id)
    assert stored.ts == datetime.fromtimestamp(reply.ts / 1_000_000, tz=timezone.utc)
    assert stored.ts.microsecond == reply.ts % 1_000_000


async def test_queries_filter_by_world_time_type_and_conversation(journal: Journal) -> None:
    talk = entry(at=0, type="player.spoke")
    rows = [
        talk,
        entry(at=1, correlation_id=talk.frame_id, causation_id=talk.frame_id),
        entry(at=2, type="npc.moved"),
        entry(at=3, type="weather.changed", source="weather"),
        entry(at=4, correlation_id=talk.frame_id),
        entry(world="w9", at=2),
    ]
    await journal.append_many(rows)
    ids = [r.frame_id for r in rows]

    async def found(**filters: Any) -> list[str]:
        return [e.frame_id for e in await journal.query("w1", **filters)]

    assert await found() == ids[:5]
    assert await found(since=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=3)) == ids[1:3]
    assert await found(types=["npc.said", "npc.moved"]) == [ids[1], ids[2], ids[4]]
    assert await found(correlation_id=talk.frame_id) == [ids[0], ids[1], ids[4]]
    assert await found(limit=2) == ids[:2]
    assert await found(limit=2, latest=True) == ids[3:5]
    # A time without a zone is UTC.
    assert await found(since=datetime(2025, 6, 1, 12, 0, 4)) == [ids[4]]
    assert [e.frame_id for e in await journal.query("w9")] == [ids[5]]


async def test_payload_values_json_cannot_hold_are_kept_readable(journal: Journal) -> None:
    odd = entry(payload={"blob": b"\x00\x01", "text": "nul\x00here", "nested": [{"k": "\x00"}]})

    assert await journal.append(odd)
    stored = await journal.get(odd.frame_id)

    assert stored is not None
    assert stored.payload == {"blob": "AAE=", "text": "nul\ufffdhere", "nested": [{"k": "\ufffd"}]}


@pytest.mark.parametrize(
    ("filters", "error"),
    [
        ({"limit": 0}, QueryError),
        ({"limit": 10_001}, QueryError),
        ({"types": "npc.said"}, QueryError),
        ({"since": "yesterday"}, QueryError),
    ],
)
async def test_bad_query_arguments_are_typed_errors(journal: Journal, filters: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        await journal.query("w1", **filters)


async def test_bad_world_and_bad_frame_id_are_refused(journal: Journal) -> None:
    with pytest.raises(SubjectError):
        await journal.query("not a world")
    with pytest.raises(QueryError) as caught:
        await journal.append(entry(frame_id="short"))
    assert caught.value.field == "frame_id"
