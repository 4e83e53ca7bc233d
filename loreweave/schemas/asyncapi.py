"""The AsyncAPI 3.0 document of the bus: every subject as it really is, from Loreweave's side.

``receive`` operations are what Loreweave consumes (a game server's input events, requests, each
with its ``reply``); ``send`` operations are what it publishes (actor events, dead letters,
heartbeats). Channels follow :mod:`loreweave.schemas.channels`; payloads are the registry's
JSON Schemas (dialect 2020-12), wrapped in the frame envelope.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from loreweave.protocol.errors import ConfigError
from loreweave.schemas import channels as table
from loreweave.schemas.base import Event
from loreweave.schemas.examples import EXAMPLE_ID, example_frame
from loreweave.schemas.registry import EventRegistry
from loreweave.security.roles import GAME_SERVER_EVENTS, OPS_REQUESTS

_HEADER_ID = {"type": "string", "description": "The frame's id: JetStream drops a repeat within the de-duplication "
              f"window ({table.DEDUP_WINDOW_S} s). Set it on every publish.", "examples": [EXAMPLE_ID]}
_HEADER_TRACE = {"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                 "description": "W3C trace context (optional); handlers' spans join the caller's trace."}
FRAME_HEADERS: dict[str, Any] = {
    "type": "object",
    "properties": {"Nats-Msg-Id": _HEADER_ID, "traceparent": _HEADER_TRACE},
}
ERROR_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["Lw-Error"],
    "properties": {
        "Nats-Msg-Id": _HEADER_ID, "traceparent": _HEADER_TRACE,
        "Lw-Error": {"type": "string", "description": "The error's code (the payload's `code`).",
                     "enum": list(table.ERROR_CODES)},
    },
}
DEAD_LETTER_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["Lw-Dlq-Reason", "Lw-Dlq-Error", "Lw-Dlq-Subject"],
    "properties": {
        "Lw-Dlq-Reason": {"type": "string", "enum": list(table.DLQ_REASONS), "description": "The reason code."},
        "Lw-Dlq-Error": {"type": "string", "description": "The error, naming the field (`payload.region: ...`)."},
        "Lw-Dlq-Subject": {"type": "string", "description": "The subject the refused frame was published on."},
        "Lw-Dlq-Actor": {"type": "string", "description": "For `handler_failed`: the actor whose handler failed."},
        "Lw-Dlq-Size": {"type": "string", "description": "Set when the letter was truncated: the original size."},
        "Lw-Dlq-Sha256": {
            "type": "string", "description": "Set when the letter was truncated: the original's SHA-256.",
        },
        "Nats-Msg-Id": {"type": "string", "description": "Derived from the content: a letter is stored once."},
    },
}

RULES = f"""\
Every message is one MessagePack map, the frame (`components.schemas.Frame`); its `payload` is
the event named by `type`. The schemas are JSON Schema, dialect {table.SCHEMA_DIALECT}
(`x-loreweave-schema-dialect`; with Ajv use `ajv/dist/2020` and register the `x-loreweave-type`,
`x-loreweave-version` and `x-loreweave-key` keywords); `<type>.schema.json` beside this document holds
each payload's schema on its own (its `$id` is its file name).

Rules a client must follow:

- The subject is authoritative: on `lw.{{world}}.<domain>.<event>` and `lw.rpc.{{world}}.<domain>.<name>`
  the frame's `world` and `type` must be the subject's, else the frame is dead-lettered `subject_mismatch`.
- Requests go to `lw.rpc.{{world}}...` (never journaled); a request sent to an event subject is stored by
  JetStream, which answers with its own acknowledgement and no actor replies. Every request may be
  answered by `sys.error` (header `Lw-Error`, payload `code`/`message`/`field`) instead of its reply; a
  reply keeps the request's `correlation_id` and names it as `causation_id`.
- Set `Nats-Msg-Id` to the frame `id`: JetStream drops a repeat within {table.DEDUP_WINDOW_S} s, so a retry is safe.
- `ts` is microseconds since the Unix epoch; a value before 2000-01-01 ({table.MIN_TS_US}), such as
  milliseconds, is refused `malformed` (field `ts`).
- Frames over {table.MAX_FRAME_BYTES} bytes are refused `too_large`. A refused frame is republished, raw,
  on `lw.dlq.<reason>` with `Lw-Dlq-*` headers and kept {table.DLQ_MAX_AGE} in stream `{table.DLQ_STREAM}`;
  a refused request is also answered `sys.error` with the reason as its code.
- `x-loreweave-key` names the payload field that orders handling: frames with the same key are handled
  one at a time, in order.
- A player session with no sign of life (any `player.*` frame, `player.heartbeat` included) for
  {table.PLAYER_SESSION_TIMEOUT_S} s is closed: Loreweave publishes `player.left` with reason `timeout`.
- Events are facts the game server owns: accepted as sent, never dead-lettered for what they name.
  A `player.moved` to a region `world.opened` did not declare places the player there (`world.query`
  answers it); a `player.spoke` to an NPC never spawned is journaled but no NPC answers (no `npc.said`);
  a `player.*` frame of a player who never joined opens an offline profile (no `player.met` until a
  `player.joined`). Requests check what they read: `npc.get_state` of an unknown NPC answers `sys.error`
  `bad_request` naming `npc_id`; `world.query` of an unknown id answers `found: false`.
- Roles (the server's permissions): a `game-server` publishes its worlds' input events
  (`x-loreweave-publisher: game-server`) and requests, reads its worlds' events and its own inbox
  `_INBOX.<user>.>`; dead letters and heartbeats are read with the `ops` role.
"""


def server_entry(url: str) -> dict[str, Any]:
    """The AsyncAPI server object of a NATS URL (its user and password left out).

    Raises:
        ConfigError: naming ``--server`` when ``url`` is not ``nats://HOST:PORT`` (or ``tls://``).
    """
    parts = urlsplit(url if "://" in url else f"nats://{url}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("nats", "tls") or not parts.hostname or port is None:
        raise ConfigError("--server", f"must be nats://HOST:PORT, got {url!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return {
        "host": f"{host}:{port}",
        "protocol": "nats",
        "description": "The world's NATS server. Anonymous clients are refused: connect with a role's user "
        "and password (`loreweave auth create game-server NAME --worlds w1`).",
        "security": [{"$ref": "#/components/securitySchemes/credentials"}],
    }


def asyncapi_document(registry: EventRegistry, *, server: str | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every subject; with ``server`` (a NATS URL), its address."""
    builder = _Builder(registry)
    builder.build()
    document: dict[str, Any] = {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Loreweave bus",
            "version": _version(),
            "description": RULES,
            "x-loreweave-schema-dialect": table.SCHEMA_DIALECT,
            "x-loreweave-dedup-window-s": table.DEDUP_WINDOW_S,
            "x-loreweave-subject-authoritative": True,
            "x-loreweave-player-session-timeout-s": table.PLAYER_SESSION_TIMEOUT_S,
            "x-loreweave-max-frame-bytes": table.MAX_FRAME_BYTES,
            "x-loreweave-min-ts-us": table.MIN_TS_US,
        },
        "defaultContentType": "application/msgpack",
    }
    if server:
        document["servers"] = {"loreweave": server_entry(server)}
    document["channels"] = builder.channels
    document["operations"] = builder.operations
    document["components"] = {
        "messages": builder.messages,
        "schemas": builder.schemas,
        "securitySchemes": {
            "credentials": {
                "type": "userPassword",
                "description": "A role's user and password (credential file `<role>.json` of the embedded server).",
            }
        },
    }
    return document


class _Builder:
    """Channels, operations and messages, filled in by :meth:`build`."""

    def __init__(self, registry: EventRegistry) -> None:
        self.registry = registry
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}
        self.schemas: dict[str, Any] = {}

    def build(self) -> None:
        from loreweave.schemas.export import ENVELOPE_SCHEMA, component_schemas

        self.schemas = {"Frame": ENVELOPE_SCHEMA, **component_schemas(self.registry)}
        for cls in self.registry:
            self._message(cls)
        self.messages["dead_letter"] = _dead_letter_message()
        routed = table.request_types() | table.reply_types() | {event.type for event in table.SYSTEM_EVENTS}
        for cls in self.registry:
            if cls.TYPE not in routed:
                self._event(cls)
        for system in table.SYSTEM_EVENTS:
            if system.type in self.registry:
                self._system(system)
        for request in table.REQUESTS:
            if request.type in self.registry:
                self._request(request)
        self._dead_letters()

    def _message(self, cls: type[Event]) -> None:
        name = _name(cls.TYPE)
        doc = (cls.__doc__ or "").strip()
        major = cls.VERSION.partition(".")[0]
        system = any(event.type == cls.TYPE for event in table.SYSTEM_EVENTS)
        error = cls.TYPE == "sys.error"
        message: dict[str, Any] = {
            "name": cls.TYPE,
            "title": cls.__name__,
            "summary": doc.splitlines()[0] if doc else cls.TYPE,
            "contentType": "application/msgpack",
            "headers": ERROR_HEADERS if error else FRAME_HEADERS,
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Frame"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": cls.TYPE},
                            "version": {"type": "string", "pattern": f"^{major}\\.[0-9]+$"},
                            "payload": {"$ref": f"#/components/schemas/{name}"},
                        },
                    },
                ]
            },
            "correlationId": {
                "description": "The conversation: a reply or a caused event keeps its cause's correlation_id.",
                "location": "$message.payload#/correlation_id",
            },
            "examples": [{
                "name": f"{name}_example",
                "headers": {"Nats-Msg-Id": EXAMPLE_ID, **({"Lw-Error": "bad_request"} if error else {})},
                "payload": example_frame(cls, "_" if system or error else "w1"),
            }],
            "x-loreweave-type": cls.TYPE,
            "x-loreweave-version": cls.VERSION,
            "x-loreweave-schema-file": f"{cls.TYPE}.schema.json",
        }
        if len(doc.splitlines()) > 1:
            message["description"] = doc
        if cls.KEY:
            message["x-loreweave-key"] = cls.KEY
        self.messages[name] = message

    def _ref(self, channel: str, message: str) -> dict[str, str]:
        return {"$ref": f"#/channels/{channel}/messages/{message}"}

    def _event(self, cls: type[Event]) -> None:
        name = _name(cls.TYPE)
        domain, _, event = cls.TYPE.partition(".")
        publisher = "game-server" if cls.TYPE in GAME_SERVER_EVENTS else "actor-node"
        self.channels[name] = {
            "address": f"lw.{{world}}.{domain}.{event}",
            "title": cls.TYPE,
            "description": f"`{cls.TYPE}` events of a world; journaled in stream `{table.EVENTS_STREAM}`.",
            "parameters": {"world": {"description": table.PARAMETERS["world"], "examples": ["w1"]}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "x-loreweave-publisher": publisher,
            "x-loreweave-stream": table.EVENTS_STREAM,
        }
        action = "receive" if publisher == "game-server" else "send"
        self.operations[f"{action}_{name}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": ("A game server publishes " if action == "receive" else "Loreweave publishes ") + cls.TYPE,
            "messages": [self._ref(name, name)],
            "x-loreweave-publisher": publisher,
        }
        if publisher == "game-server" and cls.TYPE == "player.left":
            self.operations[f"send_{name}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{name}"},
                "summary": "Loreweave publishes player.left (reason timeout) when a session times out",
                "messages": [self._ref(name, name)],
                "x-loreweave-publisher": "actor-node",
            }

    def _system(self, system: table.SystemEvent) -> None:
        name = _name(system.type)
        self.channels[name] = {
            "address": system.address,
            "title": system.type,
            "description": f"System subject: frames carry world `_`; never journaled."
            + (" Internal to the AI layer." if system.internal else ""),
            "parameters": _parameters(system.address),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "x-loreweave-publisher": system.published_by,
            "x-loreweave-internal": system.internal,
        }
        self.operations[f"send_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [self._ref(name, name)],
            "x-loreweave-publisher": system.published_by,
        }

    def _request(self, request: table.Request) -> None:
        channel = request.channel
        name = _name(request.type)
        reply_channel = f"{channel}_reply"
        replies = [*request.replies, "sys.error"]
        self.channels[channel] = {
            "address": request.subject,
            "title": f"{request.type} request ({request.subject})",
            "description": _request_description(request),
            "parameters": _parameters(request.subject),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "x-loreweave-answered-by": request.answered_by,
            "x-loreweave-callers": _callers(request),
            "x-loreweave-internal": request.internal,
        }
        self.channels[reply_channel] = {
            "address": None,
            "title": f"Reply to {request.type} ({request.subject})",
            "description": "The requester's inbox (the NATS reply subject it sent with the request; a game "
            "server's is `_INBOX.<user>.<id>`).",
            "messages": {_name(reply): {"$ref": f"#/components/messages/{_name(reply)}"} for reply in replies},
        }
        self.operations[f"answer_{channel}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"Answer {request.type} on {request.subject}",
            "messages": [self._ref(channel, name)],
            "reply": {
                "channel": {"$ref": f"#/channels/{reply_channel}"},
                "messages": [self._ref(reply_channel, _name(reply)) for reply in replies],
            },
            "x-loreweave-stream-reply": request.stream,
        }

    def _dead_letters(self) -> None:
        self.channels["dead_letters"] = {
            "address": "lw.dlq.{reason}",
            "title": "Dead letters",
            "description": (
                "A frame an actor could not decode or handle, republished raw with the reason. Kept "
                f"{table.DLQ_MAX_AGE} in stream `{table.DLQ_STREAM}` (read it with the `ops` role: subscribe "
                "`lw.dlq.>` or consume the stream). Stored once however many actors refuse the frame."
            ),
            "parameters": {"reason": {"description": table.PARAMETERS["reason"], "enum": list(table.DLQ_REASONS)}},
            "messages": {"dead_letter": {"$ref": "#/components/messages/dead_letter"}},
            "x-loreweave-stream": table.DLQ_STREAM,
        }
        self.operations["send_dead_letters"] = {
            "action": "send",
            "channel": {"$ref": "#/channels/dead_letters"},
            "summary": "Loreweave publishes each refused frame once",
            "messages": [self._ref("dead_letters", "dead_letter")],
        }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "dead_letter",
        "title": "Dead letter",
        "summary": "The refused message's bytes, unchanged (its first bytes if it was too large to keep).",
        "contentType": "application/octet-stream",
        "headers": DEAD_LETTER_HEADERS,
        "payload": {"type": "string", "contentEncoding": "binary",
                    "description": "The bytes as published (not necessarily a decodable frame)."},
        "examples": [{
            "name": "invalid_payload",
            "headers": {
                "Lw-Dlq-Reason": "invalid_payload", "Lw-Dlq-Error": "payload.player_id: Field required",
                "Lw-Dlq-Subject": "lw.w1.player.moved",
            },
            "payload": "<the frame's MessagePack bytes>",
        }],
    }


def _request_description(request: table.Request) -> str:
    first, last = request.replies[0], request.replies[-1]
    if not request.stream:
        answers = f"One frame answers: `{first}`, or `sys.error`."
    elif len(request.replies) > 1:
        answers = f"Several frames answer: `{first}` frames as they come, then one `{last}`; or one `sys.error`."
    else:
        answers = f"Several frames answer: `{first}` frames, the last with `last: true`; or one `sys.error`."
    return (
        f"Send a `{request.type}` frame as a NATS request (with a reply subject). {answers}"
        + (" Internal to the AI layer (router to tier)." if request.internal else "")
        + (" Never journaled." if request.subject.startswith("lw.rpc.") else "")
    )


def _callers(request: table.Request) -> list[str]:
    """The roles whose permissions let them send ``request`` (see ``loreweave/security/roles.py``)."""
    if not request.subject.startswith("lw.rpc."):
        return ["actor-node", "ai"]
    callers = ["game-server", "actor-node"]
    if request.type.startswith("kb."):
        callers.append("designer")
    if request.type in OPS_REQUESTS:
        callers.append("ops")
    return callers


def _parameters(address: str) -> dict[str, Any]:
    names = [part[1:-1] for part in address.split(".") if part.startswith("{")]
    return {name: {"description": table.PARAMETERS[name]} for name in names}


def _name(event_type: str) -> str:
    return event_type.replace(".", "_")


def _version() -> str:
    try:
        return metadata.version("loreweave")
    except metadata.PackageNotFoundError:
        return "0.0.0"
