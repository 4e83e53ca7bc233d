import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loreweave.protocol import Frame, FrameError, decode_frame, encode_frame


def sample(**changes: object) -> Frame:
    frame = Frame(type="npc.said", world="w1", payload={"npc_id": "n1", "text": "hello"}, source="test")
    for name, value in changes.items():
        setattr(frame, name, value)
    return frame


def wire(frame: Frame) -> dict:
    return msgpack.unpackb(encode_frame(frame))


def test_round_trip_is_symmetric() -> None:
    frame = sample()
    decoded = decode_frame(encode_frame(frame))
    assert decoded == frame
    assert encode_frame(decoded) == encode_frame(frame)


def test_frame_is_one_msgpack_map_with_the_envelope_fields() -> None:
    assert set(wire(sample())) == {
        "version", "type", "id", "ts", "world", "source", "correlation_id", "causation_id", "payload",
    }


def test_caused_frame_keeps_correlation_and_names_its_cause() -> None:
    root = sample()
    child = root.caused("npc.moved", {}, source="npc", index=0)
    grandchild = child.caused("npc.said", {}, source="npc", index=0)
    assert child.correlation_id == grandchild.correlation_id == root.id
    assert child.causation_id == root.id and grandchild.causation_id == child.id


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("version", "1", "bad_version"),
        ("version", 1, "bad_version"),
        ("type", "npcsaid", "malformed"),
        ("type", "npc.sa id", "malformed"),
        ("id", "not-a-ulid", "malformed"),
        ("ts", -1, "malformed"),
        ("ts", 1.5, "malformed"),
        ("world", "", "malformed"),
        ("world", "w.1", "malformed"),
        ("source", "", "malformed"),
        ("causation_id", "x", "malformed"),
        ("payload", [1, 2], "malformed"),
    ],
)
def test_wrong_types_raise_a_frame_error_naming_the_field(field: str, value: object, code: str) -> None:
    data = wire(sample())
    data[field] = value
    with pytest.raises(FrameError) as raised:
        decode_frame(msgpack.packb(data))
    assert raised.value.field == field
    assert raised.value.code == code


def test_missing_and_unknown_envelope_fields_are_refused() -> None:
    data = wire(sample())
    del data["world"]
    with pytest.raises(FrameError, match="world: is missing"):
        decode_frame(msgpack.packb(data))
    data = wire(sample())
    data["extra"] = 1
    with pytest.raises(FrameError, match="extra: is not a frame field"):
        decode_frame(msgpack.packb(data))


def test_size_limit_applies_both_ways() -> None:
    big = sample(payload={"text": "x" * 2000})
    with pytest.raises(FrameError) as raised:
        encode_frame(big, max_bytes=1000)
    assert raised.value.code == "too_large"
    with pytest.raises(FrameError) as raised:
        decode_frame(encode_frame(big), max_bytes=1000)
    assert raised.value.code == "too_large"


def test_truncated_frames_are_refused() -> None:
    data = encode_frame(sample())
    for cut in range(0, len(data)):
        with pytest.raises(FrameError):
            decode_frame(data[:cut])


def test_unencodable_payload_is_a_frame_error() -> None:
    with pytest.raises(FrameError) as raised:
        encode_frame(sample(payload={"when": object()}))
    assert raised.value.field == "payload"


def test_non_map_is_refused() -> None:
    with pytest.raises(FrameError, match="must be a map"):
        decode_frame(msgpack.packb([1, 2, 3]))


@settings(max_examples=300)
@given(st.binary(max_size=512))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    try:
        decode_frame(data)
    except FrameError:
        pass


@settings(max_examples=200)
@given(st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(-(2**63), 2**64 - 1), st.text(max_size=20)), max_size=9))
def test_random_maps_never_crash_the_decoder(data: dict) -> None:
    try:
        decode_frame(msgpack.packb(data))
    except FrameError:
        pass
