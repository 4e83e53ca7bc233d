"""The actor runtime: actors, handlers, mailboxes, supervision, the bus and the node."""

from loreweave.actors.runtime.actor import Actor, Context, HandlerSpec, Persistence, every, on, reply
from loreweave.actors.runtime.bus import (
    DLQ_STREAM,
    EVENTS_STREAM,
    Bus,
    RequestError,
    StreamLimits,
    frame_for,
)
from loreweave.actors.runtime.dispatch import HandlerRunner, RecentIds
from loreweave.actors.runtime.mailbox import KeyedMailbox
from loreweave.actors.runtime.exclusive import ExclusiveSettings
from loreweave.actors.runtime.node import ActorNode
from loreweave.actors.runtime.outbox import Outbox
from loreweave.actors.runtime.supervisor import Supervisor
from loreweave.actors.runtime.telemetry import RuntimeInstruments, Tally, configure_telemetry, tracer

__all__ = [
    "Actor", "ActorNode", "Bus", "Context", "DLQ_STREAM", "EVENTS_STREAM", "ExclusiveSettings", "HandlerRunner",
    "HandlerSpec", "KeyedMailbox", "Outbox", "Persistence", "RecentIds", "RequestError", "RuntimeInstruments", "Tally",
    "StreamLimits", "Supervisor", "configure_telemetry", "every", "frame_for", "on", "reply",
    "tracer",
]
