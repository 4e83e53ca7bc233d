"""Pre-encoded frames for the simulated game server: encode an event once, stamp each copy.

A game server sends the same few events over and over (a player moves to one of eight
regions, says one of seven lines...). Encoding each through the typed frame and MessagePack
costs more CPU than publishing it; here an event is encoded once into a template, and each
send only writes a new frame id (as ``id`` and ``correlation_id``) and time into a copy.
The bytes are exactly what :func:`~loreweave.protocol.encode_frame` would give.
"""

from __future__ import annotations

import struct
from typing import Any

from loreweave.protocol import Frame, encode_frame, new_frame_id, now_us
from loreweave.schemas import Event

#: Placeholders written where each send puts its own values (a valid ULID; a fixed-width uint64).
_ID = "0" * 26
_TS = 0x0123456789ABCDEF  # within the codec's range of times, and wide enough to be packed in 8 bytes
_TS_BYTES = b"\xcf" + struct.pack(">Q", _TS)
_PACK_TS = struct.Struct(">Q").pack


class FrameTemplate:
    """One event in one world from one source, encoded once; :meth:`stamp` gives a fresh frame's bytes."""

    __slots__ = ("subject", "_head", "_middle", "_tail", "_between")

    def __init__(self, event: Event, world: str, source: str) -> None:
        frame = Frame(type=event.TYPE, world=world, payload=event, source=source, version=event.VERSION, id=_ID,
                      ts=_TS)
        data = encode_frame(frame)
        id_bytes = _ID.encode()
        if data.count(id_bytes) != 2 or data.count(_TS_BYTES) != 1:
            raise ValueError(f"{event.TYPE}: the payload holds a placeholder value; encode it as a frame instead")
        head, middle, tail = data.split(id_bytes)
        before_ts, after_ts = middle.split(_TS_BYTES)
        self.subject = frame.subject
        self._head, self._between, self._middle, self._tail = head, before_ts + b"\xcf", after_ts, tail

    def stamp(self) -> tuple[str, bytes]:
        """A new frame id and the frame's bytes with that id and the current time."""
        frame_id = new_frame_id()
        raw = frame_id.encode()
        return frame_id, b"".join((self._head, raw, self._between, _PACK_TS(now_us()), self._middle, raw, self._tail))


class FrameTemplates:
    """Templates of one world's events from one source, made on first use of each distinct event."""

    def __init__(self, world: str, source: str, max_templates: int = 100_000) -> None:
        self.world = world
        self.source = source
        self.max_templates = max_templates
        self._templates: dict[Any, FrameTemplate] = {}

    def template(self, event: Event) -> FrameTemplate:
        """The template of ``event`` (made now if no equal event was sent before)."""
        try:
            key: Any = (type(event), *event.__dict__.values())
            template = self._templates.get(key)
        except TypeError:  # a list or a map in the payload: not a key, not cached
            return FrameTemplate(event, self.world, self.source)
        if template is None:
            template = FrameTemplate(event, self.world, self.source)
            if len(self._templates) < self.max_templates:
                self._templates[key] = template
        return template

    def __len__(self) -> int:
        return len(self._templates)
