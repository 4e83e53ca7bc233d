"""MessagePack encoding and strict decoding of frames."""

from __future__ import annotations

import math
import re
from typing import Any, Mapping, Protocol

import msgpack
import msgspec

from loreweave.protocol.errors import FrameError, SubjectError
from loreweave.protocol.frame import FRAME_FIELDS, Frame
from loreweave.protocol.ids import is_frame_id
from loreweave.protocol.subjects import RESERVED_WORLDS, ROOT, check_frame_subject, check_world

#: Half of nats-server's default ``max_payload`` (1 MiB): a frame over the limit still fits in a
#: NATS message, so it reaches the actors and is dead-lettered ``too_large`` instead of being
#: refused by the publisher's client unseen.
DEFAULT_MAX_FRAME_BYTES = 512 * 1024
_VERSION = re.compile(r"\d{1,4}\.\d{1,4}")
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_FIELD_SET = frozenset(FRAME_FIELDS)
_MAX_SOURCE = 128
#: Most levels of maps and lists in a payload, the payload map itself included.
MAX_PAYLOAD_DEPTH = 32
#: Latest ``ts`` accepted, 9999-12-31T23:59:59Z: a later time has no ``datetime`` to journal it as.
MAX_TS_US = 253_402_300_799_000_000
#: Earliest ``ts`` accepted, 2000-01-01T00:00:00Z: a time in milliseconds (a common client mistake) is below it.
MIN_TS_US = 946_684_800_000_000
# Values stored as they are by JSON (and jsonb); MessagePack ints always fit in 64 bits.
_SCALARS = frozenset({str, int, bool, type(None)})
_LW = f"{ROOT}."


class _Wire(msgspec.Struct, forbid_unknown_fields=True):
    """The envelope's shape: every field present, none other, each of its wire type.

    Decoding into it checks in C what :func:`_check_envelope` checks of a map field by field;
    anything it refuses takes the map path, which names the field and the reason.
    """

    version: str
    type: str
    id: str
    ts: int
    world: str
    source: str
    correlation_id: str
    causation_id: str | None
    payload: dict[str, Any]


_WIRE = msgspec.msgpack.Decoder(_Wire)
#: Encodes frames whose payload came from ``to_wire`` (JSON's types only): 3-4x faster than
#: ``msgpack.packb`` and byte for byte the same. Any other payload keeps msgpack, which refuses
#: what MessagePack has no type for (msgspec would write a set as an array, a datetime as text).
_ENCODER = msgspec.msgpack.Encoder()


class PayloadSchema(Protocol):
    """What the codec asks of a schema registry (see :mod:`loreweave.schemas`)."""

    def validate(self, event_type: str, version: str, payload: dict[str, Any]) -> Any:
        """Return the typed payload, or raise :class:`FrameError` naming the field."""


def encode_frame(frame: Frame, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """Encode a frame as one MessagePack map.

    Raises:
        FrameError: if a field has the wrong type or the frame exceeds ``max_bytes``.
    """
    payload = frame.payload
    to_wire = getattr(payload, "to_wire", None)
    wire = {
        "version": frame.version,
        "type": frame.type,
        "id": frame.id,
        "ts": frame.ts,
        "world": frame.world,
        "source": frame.source,
        "correlation_id": frame.correlation_id,
        "causation_id": frame.causation_id,
        "payload": payload if to_wire is None else to_wire(),
    }
    _check_envelope(wire)
    try:
        data = msgpack.packb(wire, use_bin_type=True) if to_wire is None else _ENCODER.encode(wire)
    except (TypeError, ValueError, OverflowError) as exc:
        raise FrameError("payload", f"cannot be encoded as MessagePack: {exc}") from None
    if len(data) > max_bytes:
        raise FrameError("frame", f"{len(data)} bytes exceeds the limit of {max_bytes}", "too_large")
    return data


def peek_ids(data: bytes) -> tuple[str | None, str | None]:
    """Best effort: the ``id`` and ``correlation_id`` of bytes that failed to decode as a frame.

    Either is ``None`` unless the bytes are a MessagePack map holding a valid ULID there, so an
    answer to an undecodable request can still name the request it answers.
    """
    try:
        wire = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception:  # msgpack raises several unrelated types for bad bytes
        return None, None
    if not isinstance(wire, dict):
        return None, None
    frame_id, correlation_id = wire.get("id"), wire.get("correlation_id")
    return (
        frame_id if is_frame_id(frame_id) else None,
        correlation_id if is_frame_id(correlation_id) else None,
    )


def decode_frame(
    data: bytes,
    max_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    schema: PayloadSchema | None = None,
    *,
    subject: str | None = None,
) -> Frame:
    """Decode and check one frame; with ``schema``, validate and type its payload.

    A decoded frame can always be encoded again and journaled as JSON: binary values,
    MessagePack extension types, non-string map keys, NaN and infinities, and payloads
    nested deeper than :data:`MAX_PAYLOAD_DEPTH` are refused here rather than failing
    later. Strings may hold U+0000 (the journal stores it as U+FFFD).

    Args:
        subject: the subject the frame arrived on; when it is an event or request subject,
            the frame's world and type must be its own (see :func:`check_frame_subject`).

    Raises:
        FrameError: naming the field and the reason; its ``code`` is the dead-letter reason.
    """
    if len(data) > max_bytes:
        raise FrameError("frame", f"{len(data)} bytes exceeds the limit of {max_bytes}", "too_large")
    try:
        wire = _WIRE.decode(data)
    except Exception:  # bad bytes or a bad envelope: the map path names what is wrong
        return _decode_map(data, schema, subject)
    world, event_type, version, causation, source, ts = (
        wire.world, wire.type, wire.version, wire.causation_id, wire.source, wire.ts,
    )
    payload: Any = wire.payload
    if not (
        _FAST_FIELDS.fullmatch(f"{version}\0{event_type}\0{wire.id}\0{wire.correlation_id}\0{world}")
        and MIN_TS_US <= ts <= MAX_TS_US
        and (causation is None or _FRAME_ID.fullmatch(causation))
        and 0 < len(source) <= _MAX_SOURCE
        and "\0" not in source
        and world not in RESERVED_WORLDS
    ):
        return _decode_map(data, schema, subject)
    # World and type are checked tokens here, so this is the event subject; anything else
    # (a request subject, a mismatch) takes the full check.
    if subject is not None and subject != f"{_LW}{world}.{event_type}":
        check_frame_subject(subject, world, event_type)
    # A flat map of strings, ints, booleans and nils (most frames) needs no walk; anything
    # else the map path checks (it tells extension types and binary from other values).
    for value in payload.values():
        if type(value) not in _SCALARS:
            if not _plain(payload, 1):
                return _decode_map(data, schema, subject)
            break
    if schema is not None:
        payload = schema.validate(event_type, version, payload)
    # Positional, in field order: keywords cost a third of a microsecond more per frame.
    return Frame(event_type, world, payload, source, version, wire.id, ts, wire.correlation_id, causation)


def _decode_map(data: bytes, schema: PayloadSchema | None, subject: str | None) -> Frame:
    """Decode through a plain map, checking field by field: slower, and it names what is wrong."""
    try:
        wire = msgpack.unpackb(data, raw=False, strict_map_key=True, ext_hook=_refuse_ext)
    except FrameError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for bad bytes
        raise FrameError("frame", f"not valid MessagePack: {type(exc).__name__}: {exc}") from None
    if not isinstance(wire, dict):
        raise FrameError("frame", f"must be a map, got {type(wire).__name__}")
    _check_envelope(wire)
    if subject is not None and subject != f"{_LW}{wire['world']}.{wire['type']}":
        check_frame_subject(subject, wire["world"], wire["type"])
    payload: Any = wire["payload"]
    for key, value in payload.items():
        if type(value) not in _SCALARS or type(key) is not str:
            if not _plain(payload, 1):
                _check_payload(payload, "payload", 1)
            break
    if schema is not None:
        payload = schema.validate(wire["type"], wire["version"], payload)
    return Frame(
        type=wire["type"],
        world=wire["world"],
        payload=payload,
        source=wire["source"],
        version=wire["version"],
        id=wire["id"],
        ts=wire["ts"],
        correlation_id=wire["correlation_id"],
        causation_id=wire["causation_id"],
    )


def _refuse_ext(code: int, data: bytes) -> Any:
    raise FrameError("frame", f"holds a MessagePack extension type ({code}), which frames do not use")


def _plain(container: Any, depth: int) -> bool:
    """Whether a map or list (at ``depth``) holds only what JSON stores as it is; fast, no field names."""
    if depth > MAX_PAYLOAD_DEPTH:
        return False
    if type(container) is dict:
        for key in container:
            if type(key) is not str:
                return False
        container = container.values()
    for value in container:
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind is float:
            if value - value != 0.0:  # NaN or an infinity
                return False
        elif (kind is not dict and kind is not list) or not _plain(value, depth + 1):
            return False
    return True


def _check_payload(value: Any, field: str, depth: int) -> None:
    """Raise :class:`FrameError` naming the first value that could not be re-encoded and journaled."""
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is float:
        if not math.isfinite(value):
            raise FrameError(field, f"must be a finite number, got {value!r}")
        return
    if kind is dict or kind is list:
        if depth > MAX_PAYLOAD_DEPTH:
            raise FrameError(field, f"nests deeper than {MAX_PAYLOAD_DEPTH} levels of maps and lists")
        if kind is list:
            for index, item in enumerate(value):
                _check_payload(item, f"{field}[{index}]", depth + 1)
            return
        for key, item in value.items():
            if type(key) is not str:
                raise FrameError(field, f"map keys must be strings, got {type(key).__name__} {key!r:.40}")
            _check_payload(item, f"{field}.{key}", depth + 1)
        return
    if kind is bytes:
        raise FrameError(field, "must not be binary (it cannot be journaled as JSON); send text or base64")
    raise FrameError(field, f"must be a string, number, boolean, nil, map or list, got {kind.__name__}")


_ULID = "[0-7][0-9A-HJKMNP-TV-Z]{25}"
# version, type, id, correlation_id and world joined by NULs: one match checks them all.
_FAST_FIELDS = re.compile(
    rf"\d{{1,4}}\.\d{{1,4}}\0[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\0{_ULID}\0{_ULID}\0[A-Za-z0-9_-]+"
)
_FRAME_ID = re.compile(_ULID)


def _check_envelope(wire: Mapping[str, Any]) -> None:
    """Raise :class:`FrameError` for the first bad envelope field; return quickly for a good frame."""
    if wire.keys() == _FIELD_SET:
        try:
            joined = "\0".join(
                (wire["version"], wire["type"], wire["id"], wire["correlation_id"], wire["world"])
            )
        except TypeError:
            joined = ""
        causation, ts, source = wire["causation_id"], wire["ts"], wire["source"]
        if (
            _FAST_FIELDS.fullmatch(joined)
            and type(ts) is int
            and MIN_TS_US <= ts <= MAX_TS_US
            and (causation is None or (type(causation) is str and _FRAME_ID.fullmatch(causation)))
            and type(source) is str
            and 0 < len(source) <= _MAX_SOURCE
            and "\0" not in source
            and type(wire["payload"]) is dict
            and wire["world"] not in RESERVED_WORLDS
        ):
            return
    _explain_envelope(wire)


def _explain_envelope(wire: Mapping[str, Any]) -> None:
    if wire.keys() != _FIELD_SET:
        missing = sorted(_FIELD_SET - wire.keys())
        if missing:
            raise FrameError(missing[0], "is missing")
        raise FrameError(str(sorted(wire.keys() - _FIELD_SET)[0]), "is not a frame field")
    version = wire["version"]
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise FrameError("version", f"must be 'MAJOR.MINOR', got {version!r}", "bad_version")
    event_type = wire["type"]
    if not isinstance(event_type, str) or not _EVENT_TYPE.fullmatch(event_type):
        raise FrameError("type", f"must be '<domain>.<event>' of letters, digits, '_' or '-', got {event_type!r}")
    for field, value in (
        ("id", wire["id"]),
        ("correlation_id", wire["correlation_id"]),
    ):
        if not is_frame_id(value):
            raise FrameError(field, f"must be a 26-character ULID, got {value!r}")
    causation = wire["causation_id"]
    if causation is not None and not is_frame_id(causation):
        raise FrameError("causation_id", f"must be a ULID or nil, got {causation!r}")
    ts = wire["ts"]
    if type(ts) is not int or not MIN_TS_US <= ts <= MAX_TS_US:
        hint = " (milliseconds? ts is in microseconds)" if type(ts) is int and 0 <= ts < MIN_TS_US else ""
        raise FrameError(
            "ts", f"must be an integer of microseconds from {MIN_TS_US} (2000-01-01) to {MAX_TS_US}, got {ts!r}{hint}"
        )
    source = wire["source"]
    if not isinstance(source, str) or not 0 < len(source) <= _MAX_SOURCE:
        raise FrameError("source", f"must be a string of 1 to {_MAX_SOURCE} characters")
    if "\0" in source:  # a PostgreSQL text column cannot hold U+0000
        raise FrameError("source", "must not contain U+0000")
    if not isinstance(wire["payload"], dict):
        raise FrameError("payload", f"must be a map, got {type(wire['payload']).__name__}")
    try:
        check_world(wire["world"])
    except SubjectError as exc:
        raise FrameError(exc.field, exc.reason) from None
