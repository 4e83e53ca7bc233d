"""What decode_frame accepts can be encoded again and journaled as JSON; the rest is refused."""

import json
import math
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loreweave.db.journal import JournalEntry, encode_payload
from loreweave.protocol import MAX_PAYLOAD_DEPTH, MAX_TS_US, Frame, FrameError, decode_frame, encode_frame
from loreweave.schemas import PlayerMoved, registry


def wire(**changes: Any) -> dict[str, Any]:
    frame = Frame(type="player.moved", world="w1", payload={"player_id": "p1", "region": "r1"}, source="game")
    data = msgpack.unpackb(encode_frame(frame))
    data.update(changes)
    return data


def nested(depth: int) -> dict[str, Any]:
    """A payload whose maps and lists nest ``depth`` levels, the payload itself included."""
    value: Any = 1
    for level in range(depth - 1):
        value = [value] if level % 2 else {"k": value}
    return {"v": value}


def journal_text(frame: Frame) -> str:
    """The payload as the journal stores it, parsed back as strictly as jsonb does."""
    text = encode_payload(JournalEntry.from_frame(frame))

    def refuse(constant: str) -> None:
        raise ValueError(f"jsonb refuses {constant}")

    json.loads(text, parse_constant=refuse)
    assert "\\u0000" not in text and "\x00" not in text
    return text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"payload": {"player_id": "p1", "region": "r1", "blob": b"\xff\xfe"}}, "payload.blob"),
        ({"payload": {"player_id": "p1", "region": "r1", "extra": {"deep": [b""]}}}, "payload.extra.deep[0]"),
        ({"payload": {b"player_id": "p1"}}, "payload"),
        ({"payload": {"player_id": "p1", "region": "r1", "x": float("nan")}}, "payload.x"),
        ({"payload": {"player_id": "p1", "region": "r1", "x": [float("inf")]}}, "payload.x[0]"),
        ({"payload": {"player_id": "p1", "region": "r1", "x": -math.inf}}, "payload.x"),
        ({"payload": {"t": msgpack.Timestamp(1, 0)}}, "payload.t"),
        ({"payload": {"x": msgpack.ExtType(5, b"abc")}}, "frame"),
        ({"ts": MAX_TS_US + 1}, "ts"),
        ({"ts": 2**64 - 1}, "ts"),
        ({"source": "game\x00server"}, "source"),
    ],
)
def test_values_that_could_not_be_journaled_are_refused_naming_the_field(changes: dict, field: str) -> None:
    data = msgpack.packb(wire(**changes), use_bin_type=True)
    with pytest.raises(FrameError) as raised:
        decode_frame(data, schema=registry)
    assert raised.value.field == field
    assert raised.value.code == "malformed"


def test_payloads_nested_beyond_the_limit_are_refused() -> None:
    with pytest.raises(FrameError, match=f"nests deeper than {MAX_PAYLOAD_DEPTH} levels") as raised:
        decode_frame(msgpack.packb(wire(payload=nested(MAX_PAYLOAD_DEPTH + 1))))
    assert raised.value.field.startswith("payload.v[0].k")


def test_the_limits_themselves_are_accepted() -> None:
    frame = decode_frame(msgpack.packb(wire(payload=nested(MAX_PAYLOAD_DEPTH), ts=MAX_TS_US)))
    journal_text(frame)
    assert decode_frame(encode_frame(frame)) == frame


def test_nul_in_payload_text_is_accepted_and_journaled_as_a_replacement_character() -> None:
    payload = {"player_id": "p1", "region": "r1", "line": "hi\x00there"}
    frame = decode_frame(msgpack.packb(wire(payload=payload)), schema=registry)
    assert frame.payload.line == "hi\x00there"
    assert json.loads(journal_text(frame))["line"] == "hi\ufffdthere"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=8),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=4)),
    st.builds(msgpack.Timestamp, st.integers(0, 2**32 - 1)),
)
keys = st.one_of(st.text(max_size=8), st.binary(max_size=4))
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=20
)


@st.composite
def deep(draw: st.DrawFn) -> Any:
    """A value nested around the depth limit, so both sides of it are tried."""
    value = draw(values)
    for _ in range(draw(st.integers(MAX_PAYLOAD_DEPTH - 3, MAX_PAYLOAD_DEPTH + 1))):
        value = draw(st.sampled_from(["list", "map"])) == "list" and [value] or {"k": value}
    return value


payloads = st.dictionaries(keys, values | deep(), max_size=6)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "ts": st.sampled_from([0, 1, MAX_TS_US, MAX_TS_US + 1, 2**63, 2**64 - 1]),
        "source": st.text(min_size=1, max_size=6),
    },
)


def assert_journalable(frame: Frame) -> None:
    again = encode_frame(frame)
    assert decode_frame(again, schema=registry if isinstance(frame.payload, PlayerMoved) else None) == frame
    journal_text(frame)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(payloads, envelopes)
def test_what_decode_accepts_can_be_encoded_again_and_journaled(payload: dict, changes: dict) -> None:
    data = msgpack.packb(wire(payload=payload, **changes), use_bin_type=True)
    try:
        frame = decode_frame(data)
    except FrameError:
        return
    assert_journalable(frame)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(payloads)
def test_a_typed_payloads_unknown_fields_can_be_encoded_again_and_journaled(extra: dict) -> None:
    payload = {**extra, "player_id": "p1", "region": "r1"}
    data = msgpack.packb(wire(payload=payload), use_bin_type=True)
    try:
        frame = decode_frame(data, schema=registry)
    except FrameError:
        return
    assert_journalable(frame)


@settings(max_examples=400)
@given(st.data())
def test_fuzzed_frames_raise_nothing_but_frame_errors(data: st.DataObject) -> None:
    good = bytearray(msgpack.packb(wire(payload={"player_id": "p1", "region": "r1", "x": [1.5, {"y": "z"}]})))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(good) - 1))
        good[position] = data.draw(st.integers(0, 255))
    blob = bytes(good) + data.draw(st.binary(max_size=8))
    for schema in (None, registry):
        try:
            frame = decode_frame(blob, schema=schema, subject="lw.w1.player.moved")
        except FrameError:
            continue
        assert_journalable(frame)
