"""Where each event type travels: the request/reply pairs, the AI and system subjects, the rules.

The AsyncAPI exporter (:mod:`loreweave.schemas.asyncapi`) reads this table; every event type not
named here is an event on ``lw.<world>.<domain>.<event>``. ``tests/schemas`` checks the table
against the actors' ``@reply`` handlers and the runtime's constants, so it cannot drift from them.
"""

from __future__ import annotations

from dataclasses import dataclass

from loreweave.protocol.codec import MIN_TS_US as CODEC_MIN_TS_US

#: Every event schema is JSON Schema of this dialect (``$defs``, ``prefixItems``...).
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: JetStream drops a second frame with the same ``Nats-Msg-Id`` within this window.
DEDUP_WINDOW_S = 120
#: A player session with no sign of life for this long is closed with ``player.left`` (reason ``timeout``).
PLAYER_SESSION_TIMEOUT_S = 60
#: Largest frame an actor decodes; a larger one is dead-lettered ``too_large``.
MAX_FRAME_BYTES = 512 * 1024
#: Earliest ``ts`` accepted (2000-01-01T00:00:00Z in microseconds): a time in milliseconds is below it.
MIN_TS_US = CODEC_MIN_TS_US
#: The JetStream stream of game events, and the one keeping dead letters.
EVENTS_STREAM = "LOREWEAVE"
DLQ_STREAM = "LOREWEAVE_DLQ"
#: How long the dead-letter stream keeps a letter (ISO 8601 duration).
DLQ_MAX_AGE = "P7D"
#: Reason codes of dead letters: the last token of ``lw.dlq.<reason>``.
DLQ_REASONS: tuple[str, ...] = (
    "malformed", "too_large", "unknown_type", "bad_version", "invalid_payload", "subject_mismatch",
    "handler_failed",
)
#: Codes of a ``sys.error`` reply besides the dead-letter reasons of an unreadable request.
ERROR_CODES: tuple[str, ...] = tuple(dict.fromkeys((
    "bad_request", "handler_failed", "timeout", "overloaded", "rate_limited", "quota_exceeded", "unavailable",
    "internal", *DLQ_REASONS,
)))


@dataclass(frozen=True)
class Request:
    """A request type, the subject it is sent on, and the frames that answer it.

    Attributes:
        type: the request's event type (``world.query``).
        replies: the event types of the answer (``sys.error`` always may answer too).
        address: the subject, with ``{world}``-style parameters; default ``lw.rpc.{world}.<type>``.
        stream: several reply frames (all but the last of ``replies[0]``), not one.
        answered_by: who answers it (an actor, the AI layer).
    """

    type: str
    replies: tuple[str, ...]
    address: str = ""
    stream: bool = False
    answered_by: str = "actor-node"
    internal: bool = False

    @property
    def subject(self) -> str:
        """The channel address: ``lw.rpc.{world}.<domain>.<name>`` unless given."""
        return self.address or f"lw.rpc.{{world}}.{self.type}"

    @property
    def channel(self) -> str:
        """A channel id, unique per subject (its parameters left out).

        ``rpc_world_query``, ``request_ai_stream``, ``request_ai_tier_generate``.
        """
        tokens = [token for token in self.subject.split(".")[1:] if not token.startswith("{")]
        return "_".join(tokens) if tokens[0] == "rpc" else "_".join(["request", *tokens])


def _rpc(request: str, *replies: str) -> Request:
    return Request(request, replies)


#: Every request, in the order the document lists them.
REQUESTS: tuple[Request, ...] = (
    _rpc("clock.get_time", "clock.time"),
    _rpc("kb.concept", "kb.concept_reply"),
    _rpc("kb.context", "kb.context_reply"),
    _rpc("kb.memories", "kb.memories_reply"),
    _rpc("kb.search", "kb.hits"),
    _rpc("language.translate", "language.translation"),
    _rpc("npc.get_state", "npc.state"),
    _rpc("payment.get_ledger", "payment.ledger"),
    _rpc("payment.purchase", "payment.receipt"),
    _rpc("payment.refund", "payment.receipt"),
    _rpc("player.get_nearby", "player.nearby"),
    _rpc("player.get_profile", "player.profile"),
    _rpc("qos.get_status", "qos.status"),
    _rpc("quest.abandon", "quest.status"),
    _rpc("quest.accept", "quest.status"),
    _rpc("quest.get_journal", "quest.journal"),
    _rpc("registry.query", "registry.snapshot"),
    _rpc("settings.get", "settings.current"),
    _rpc("settings.update", "settings.current"),
    _rpc("version.get_report", "version.report"),
    _rpc("weather.get_report", "weather.report"),
    _rpc("world.get_snapshot", "world.snapshot"),
    _rpc("world.query", "world.answer"),
    Request("ai.generate", ("ai.result",), address="lw.ai.generate", answered_by="ai"),
    Request("ai.generate", ("ai.chunk", "ai.result"), address="lw.ai.stream", stream=True, answered_by="ai"),
    Request("ai.tier_call", ("ai.tier_completion",), address="lw.ai.tier.{tier}.generate", answered_by="ai",
            internal=True),
    Request("ai.tier_call", ("ai.tier_delta",), address="lw.ai.tier.{tier}.stream", stream=True, answered_by="ai",
            internal=True),
)


@dataclass(frozen=True)
class SystemEvent:
    """An event type published on a system subject rather than a world's."""

    type: str
    address: str
    published_by: str
    internal: bool = False


#: Event types that never travel on ``lw.<world>.<domain>.<event>``.
SYSTEM_EVENTS: tuple[SystemEvent, ...] = (
    SystemEvent("actor.heartbeat", "lw.sys.heartbeat.actor.{actor}", "actor-node"),
    SystemEvent("ai.tier_cancel", "lw.ai.tier.{tier}.cancel", "ai", internal=True),
)

#: Descriptions of every channel parameter.
PARAMETERS: dict[str, str] = {
    "world": "World id: letters, digits, '_' or '-'; not one of dlq, rpc, ai, sys, ops, kb.",
    "actor": "Actor name (clock, weather, npc...).",
    "tier": "AI tier name (gold, silver, bronze...).",
    "reason": "Why the frame was refused: " + ", ".join(DLQ_REASONS) + ".",
}


def reply_types() -> set[str]:
    """Every event type that answers a request (``sys.error`` included)."""
    return {reply for request in REQUESTS for reply in request.replies} | {"sys.error"}


def request_types() -> set[str]:
    """Every event type sent as a request."""
    return {request.type for request in REQUESTS}
