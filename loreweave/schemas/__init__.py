"""Typed event definitions, their registry, and JSON Schema / AsyncAPI export.

Importing this package declares every built-in event in :data:`registry`.
"""

from loreweave.schemas import clock, narrative, npc, player, system  # noqa: F401  (declares events)
from loreweave.schemas.base import Event, event
from loreweave.schemas.clock import ClockTick
from loreweave.schemas.export import ENVELOPE_SCHEMA, asyncapi_document, event_schema, export_schemas
from loreweave.schemas.narrative import NarrativeBeat
from loreweave.schemas.npc import NpcSaid
from loreweave.schemas.player import PlayerJoined, PlayerLeft, PlayerMoved, PlayerSpoke
from loreweave.schemas.registry import EventRegistry, registry
from loreweave.schemas.system import ActorHeartbeat, ErrorReply

__all__ = [
    "ActorHeartbeat", "ClockTick", "ENVELOPE_SCHEMA", "ErrorReply", "Event", "EventRegistry",
    "NarrativeBeat", "NpcSaid", "PlayerJoined", "PlayerLeft", "PlayerMoved", "PlayerSpoke",
    "asyncapi_document", "event", "event_schema", "export_schemas", "registry",
]
