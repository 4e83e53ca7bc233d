"""decode_frame's fast path (msgspec envelope) and the map path it falls back to agree on every frame."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loreweave.protocol import Frame, FrameError, decode_frame, encode_frame
from loreweave.protocol.codec import _decode_map
from loreweave.schemas import registry

GOOD = msgpack.unpackb(encode_frame(Frame(
    type="player.moved", world="w1", payload={"player_id": "p1", "region": "r1"}, source="game",
)))
FIELDS = sorted(GOOD)
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1), st.floats(),
    st.text(max_size=30), st.binary(max_size=8),
    st.sampled_from(["1.0", "2.0", "player.moved", "lw", "rpc", "01JB8Z3V9X2Q4R5S6T7U8V9W0X", "w1", "", "\x00"]),
    st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=8), st.integers(min_value=-99, max_value=99), st.floats()), max_size=3),
    st.lists(st.integers(min_value=-99, max_value=99), max_size=3),
    st.builds(lambda code, data: msgpack.ExtType(code, data), st.integers(min_value=0, max_value=127), st.binary(max_size=4)),
)
PAYLOAD_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1), st.floats(),
              st.text(max_size=10), st.binary(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.text(max_size=5), st.integers(min_value=-9, max_value=9)), inner, max_size=3)),
    max_leaves=8,
)


def outcome(decode: Any, data: bytes, subject: str | None) -> tuple[object, ...]:
    try:
        frame = decode(data, subject)
    except FrameError as exc:
        return ("refused", exc.field, exc.code, str(exc))
    payload = frame.payload.model_dump() if hasattr(frame.payload, "model_dump") else frame.payload
    return ("frame", frame.type, frame.world, frame.source, frame.version, frame.id, frame.ts,
            frame.correlation_id, frame.causation_id, repr(payload))


def both_agree(data: bytes, subject: str | None) -> None:
    fast = outcome(lambda d, s: decode_frame(d, schema=registry, subject=s), data, subject)
    assert fast == outcome(lambda d, s: _decode_map(d, registry, s), data, subject)


SUBJECTS = st.sampled_from([None, "lw.w1.player.moved", "lw.w2.player.moved", "lw.rpc.w1.player.moved"])
ULID = "01JB8Z3V9X2Q4R5S6T7U8V9W0X"


@pytest.mark.parametrize("field,value", [
    ("ts", 0), ("ts", 2**63), ("ts", 1.5e15), ("ts", True), ("source", ""), ("source", "a\x00b"), ("source", "s" * 129),
    ("source", None), ("causation_id", "x"), ("causation_id", ULID), ("causation_id", 7), ("id", ULID.lower()),
    ("correlation_id", ""), ("version", "1"), ("version", 1.0), ("type", "player"), ("world", "rpc"), ("world", "a.b"),
    ("payload", []), ("payload", {"player_id": "p1"}), ("payload", {"player_id": "p1", "region": "r1", "x": b"b"}),
    ("payload", {"player_id": "p1", "region": "r1", "x": float("nan")}), ("payload", {1: 2}),
    ("payload", {"player_id": "p1", "region": "r1", "x": {"y": msgpack.ExtType(1, b"")}}),
])
@pytest.mark.parametrize("subject", [None, "lw.w1.player.moved"])
def test_each_bad_field_decodes_alike(field: str, value: Any, subject: str | None) -> None:
    both_agree(msgpack.packb({**GOOD, field: value}, use_bin_type=True), subject)


@settings(max_examples=500)
@given(st.sampled_from(FIELDS), VALUES, st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=2),
       st.lists(st.sampled_from(FIELDS), max_size=1), SUBJECTS)
def test_changed_envelopes_decode_alike(
    field: str, value: Any, more: dict[str, Any], removed: list[str], subject: str | None
) -> None:
    wire = {**GOOD, field: value, **more}
    for name in removed:
        wire.pop(name, None)
    both_agree(msgpack.packb(wire, use_bin_type=True), subject)


@settings(max_examples=300)
@given(st.dictionaries(st.one_of(st.text(max_size=10), st.integers(min_value=-9, max_value=9)), PAYLOAD_VALUES, max_size=4))
def test_any_payload_decodes_alike(extra: dict[Any, Any]) -> None:
    wire = {**GOOD, "payload": {**GOOD["payload"], **extra}}
    try:
        data = msgpack.packb(wire, use_bin_type=True, strict_types=False)
    except (TypeError, ValueError):
        return
    both_agree(data, "lw.w1.player.moved")


@given(st.binary(max_size=64))
def test_any_bytes_decode_alike(data: bytes) -> None:
    both_agree(data, None)
