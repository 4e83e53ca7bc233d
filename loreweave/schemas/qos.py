"""Quality of service: AI latency samples, a world's quality level and its status request."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from loreweave.schemas.base import Event, event

#: Quality levels from best to cheapest (the AI layer's ``Qos``).
QosLevel = Literal["full", "reduced", "scripted"]
QOS_LEVELS: tuple[QosLevel, ...] = ("full", "reduced", "scripted")


@event("qos.sample")
class QosSample(Event):
    """One AI call's latency and the queue depth seen (sent by AI callers and the AI bridge)."""

    latency_ms: float = Field(ge=0)
    queue_depth: int = Field(default=0, ge=0)
    tier: str = Field(default="", max_length=64)
    ok: bool = True


@event("qos.level_changed")
class QosLevelChanged(Event):
    """A world switched quality level."""

    level: QosLevel
    previous: QosLevel
    reason: str
    p95_ms: float
    queue_depth: int


@event("qos.get_status")
class QosGetStatus(Event):
    """Request: a world's quality level and what it is based on."""


@event("qos.status")
class QosStatus(Event):
    """Reply to ``qos.get_status``."""

    level: QosLevel
    p95_ms: float
    queue_depth: int
    samples: int
