"""The frame: the envelope every Loreweave event travels in."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from loreweave.protocol.ids import derived_frame_id, new_frame_id
from loreweave.protocol.subjects import event_subject

#: Names of the envelope's fields on the wire, in order.
FRAME_FIELDS = (
    "version",
    "type",
    "id",
    "ts",
    "world",
    "source",
    "correlation_id",
    "causation_id",
    "payload",
)


def now_us() -> int:
    """Return the current Unix time in microseconds (the unit of :attr:`Frame.ts`)."""
    return time.time_ns() // 1000


@dataclass(slots=True)
class Frame:
    """One event on the bus.

    Attributes:
        type: event type, ``<domain>.<event>`` (``npc.said``).
        world: the world the event belongs to.
        payload: the event's fields: a mapping on the wire; after a registry decode,
            the typed event instance.
        source: who emitted it (an actor name, ``game-server``...).
        version: schema version of the payload, ``MAJOR.MINOR``.
        id: unique, time-sortable frame id (ULID); also the ``Nats-Msg-Id``.
        ts: emission time, microseconds since the Unix epoch.
        correlation_id: id of the first frame of the conversation this one belongs to.
        causation_id: id of the frame whose handling emitted this one, if any.
    """

    type: str
    world: str
    payload: Any
    source: str = "unknown"
    version: str = "1.0"
    id: str = field(default_factory=new_frame_id)
    ts: int = field(default_factory=now_us)
    correlation_id: str = ""
    causation_id: str | None = None

    def __post_init__(self) -> None:
        if not self.correlation_id:
            self.correlation_id = self.id

    @property
    def subject(self) -> str:
        """The subject this frame is published on: ``lw.<world>.<domain>.<event>``."""
        return event_subject(self.world, self.type)

    def caused(
        self,
        type: str,
        payload: Any,
        *,
        source: str,
        index: int,
        version: str = "1.0",
        world: str | None = None,
        scope: str | None = None,
    ) -> Frame:
        """Return the ``index``-th frame emitted by ``scope`` (default: ``source``) while handling this one.

        The child keeps the correlation id, names this frame as its cause, and gets a
        deterministic id unique to (this frame, scope, index), so re-emitting it after a
        redelivery is de-duplicated while other emitters never collide with it.
        """
        return Frame(
            type=type,
            world=world or self.world,
            payload=payload,
            source=source,
            version=version,
            id=derived_frame_id(self.id, index, source if scope is None else scope),
            correlation_id=self.correlation_id,
            causation_id=self.id,
        )
