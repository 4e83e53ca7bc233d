"""Typed events encode byte for byte as MessagePack of their JSON-mode dump (the codec's msgspec path)."""

from __future__ import annotations

import datetime
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loreweave.protocol import Frame, FrameError, decode_frame, encode_frame
from loreweave.schemas import SettingsUpdate, registry
from loreweave.schemas.examples import example_payload


def reference_bytes(frame: Frame) -> bytes:
    """The encoding before msgspec: msgpack of the envelope with ``model_dump(mode="json")``."""
    return msgpack.packb({
        "version": frame.version, "type": frame.type, "id": frame.id, "ts": frame.ts, "world": frame.world,
        "source": frame.source, "correlation_id": frame.correlation_id, "causation_id": frame.causation_id,
        "payload": frame.payload.model_dump(mode="json"),
    }, use_bin_type=True)


def typed_frame(payload: Any) -> Frame:
    return Frame(type=payload.TYPE, world="w1", payload=payload, source="test", version=payload.VERSION)


def test_every_event_type_encodes_as_before() -> None:
    for cls in registry:
        frame = typed_frame(cls.model_validate(example_payload(cls)))
        assert encode_frame(frame) == reference_bytes(frame), cls.TYPE
        assert decode_frame(encode_frame(frame), schema=registry).payload == frame.payload


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(st.text(), inner, max_size=20),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None)
@given(changes=st.dictionaries(st.text(min_size=1), json_values, min_size=1, max_size=20),
       extra=json_values)
def test_any_json_payload_and_unknown_fields_encode_as_before(changes: dict[str, Any], extra: Any) -> None:
    frame = typed_frame(SettingsUpdate(changes=changes, by="designer", later_field=extra))
    assert encode_frame(frame) == reference_bytes(frame)


def test_what_json_mode_converts_is_converted_and_plain_payloads_stay_strict() -> None:
    when = datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc)
    typed = typed_frame(SettingsUpdate(changes={"at": when, "tags": {"a"}}))
    assert encode_frame(typed) == reference_bytes(typed)
    assert msgpack.unpackb(encode_frame(typed))["payload"]["changes"] == {"at": "2026-12-03T00:00:00Z", "tags": ["a"]}
    for value in (when, {"a"}, 2**64):
        with pytest.raises(FrameError) as refused:
            encode_frame(Frame(type="settings.update", world="w1", payload={"changes": {"x": value}}, source="test"))
        assert refused.value.field == "payload"
    with pytest.raises(FrameError):
        encode_frame(typed_frame(SettingsUpdate(changes={"x": 2**64})))
