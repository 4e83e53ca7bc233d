import pytest

from loreweave.protocol import Frame, FrameError, decode_frame, encode_frame
from loreweave.schemas import EventRegistry, NpcSaid, PlayerJoined, registry
from loreweave.schemas.base import Event
from loreweave.protocol.errors import SchemaError


def frame(payload: object, type: str = "npc.said", version: str = "1.0") -> bytes:
    return encode_frame(Frame(type=type, world="w1", payload=payload, source="t", version=version))


def test_decode_types_the_payload() -> None:
    decoded = decode_frame(frame({"npc_id": "n1", "text": "hi"}), schema=registry)
    assert isinstance(decoded.payload, NpcSaid)
    assert decoded.payload.npc_id == "n1" and decoded.payload.tier == "scripted"


def test_unknown_event_type_is_refused() -> None:
    with pytest.raises(FrameError) as raised:
        decode_frame(frame({}, type="npc.danced"), schema=registry)
    assert (raised.value.field, raised.value.code) == ("type", "unknown_type")


def test_other_major_version_is_refused() -> None:
    with pytest.raises(FrameError) as raised:
        decode_frame(frame({"npc_id": "n1", "text": "hi"}, version="2.0"), schema=registry)
    assert (raised.value.field, raised.value.code) == ("version", "bad_version")


def test_invalid_payload_names_the_field() -> None:
    with pytest.raises(FrameError) as raised:
        decode_frame(frame({"npc_id": "", "text": "hi"}), schema=registry)
    assert raised.value.field == "payload.npc_id"
    assert raised.value.code == "invalid_payload"
    with pytest.raises(FrameError) as raised:
        decode_frame(frame({"text": "hi"}), schema=registry)
    assert raised.value.field == "payload.npc_id"


def test_unknown_fields_of_a_newer_minor_version_survive_a_round_trip() -> None:
    newer = {"npc_id": "n1", "text": "hi", "emotion": "wistful", "gesture": {"kind": "bow"}}
    decoded = decode_frame(frame(newer, version="1.4"), schema=registry)
    assert decoded.version == "1.4"
    again = decode_frame(encode_frame(decoded))
    assert again.payload["emotion"] == "wistful" and again.payload["gesture"] == {"kind": "bow"}


def test_event_key_comes_from_the_declared_field() -> None:
    assert PlayerJoined(player_id="p7").key == "p7"


def test_a_type_cannot_be_declared_twice() -> None:
    local = EventRegistry()

    class One(Event):
        TYPE = "x.one"

    class Other(Event):
        TYPE = "x.one"

    local.register(One)
    with pytest.raises(SchemaError):
        local.register(Other)
