"""Export every event as JSON Schema, and all subjects as one AsyncAPI 3.0 document.

Game servers written in C++ or C# generate their frame types from these files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from loreweave.protocol.frame import FRAME_FIELDS
from loreweave.schemas.base import Event
from loreweave.schemas.registry import EventRegistry, registry as default_registry

_ULID = {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"}
ENVELOPE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Loreweave frame",
    "description": "One MessagePack map; the payload's schema depends on `type`.",
    "type": "object",
    "additionalProperties": False,
    "required": list(FRAME_FIELDS),
    "properties": {
        "version": {"type": "string", "pattern": r"^\d+\.\d+$", "description": "Payload schema version."},
        "type": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"},
        "id": {**_ULID, "description": "Unique, time-sortable ULID; also the Nats-Msg-Id header."},
        "ts": {"type": "integer", "minimum": 0, "description": "Microseconds since the Unix epoch."},
        "world": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
        "source": {"type": "string", "minLength": 1, "maxLength": 128},
        "correlation_id": _ULID,
        "causation_id": {"oneOf": [_ULID, {"type": "null"}]},
        "payload": {"type": "object"},
    },
}


def event_schema(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema of one event's payload, with its type and version."""
    schema = cls.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["x-loreweave-type"] = cls.TYPE
    schema["x-loreweave-version"] = cls.VERSION
    if cls.KEY:
        schema["x-loreweave-key"] = cls.KEY
    return schema


def asyncapi_document(registry: EventRegistry = default_registry) -> dict[str, Any]:
    """An AsyncAPI 3.0 document with one channel, message and operation per event type."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for cls in registry:
        name = cls.TYPE.replace(".", "_")
        domain, _, event = cls.TYPE.partition(".")
        messages[name] = {
            "name": cls.TYPE,
            "title": cls.__name__,
            "summary": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else "",
            "contentType": "application/msgpack",
            "headers": {
                "type": "object",
                "properties": {
                    "Nats-Msg-Id": {"type": "string", "description": "The frame id."},
                    "traceparent": {"type": "string", "description": "W3C trace context."},
                },
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Frame"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": cls.TYPE},
                            "payload": {"$ref": f"#/components/schemas/{name}"},
                        },
                    },
                ]
            },
        }
        channels[name] = {
            "address": f"lw.{{world}}.{domain}.{event}",
            "parameters": {"world": {"description": "World id."}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        operations[f"publish_{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        }
    schemas: dict[str, Any] = {"Frame": ENVELOPE_SCHEMA, **_component_schemas(registry)}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Loreweave bus",
            "version": "1.0.0",
            "description": "Events of Loreweave game worlds on NATS, as MessagePack frames.",
        },
        "defaultContentType": "application/msgpack",
        "servers": {"local": {"host": "127.0.0.1:4222", "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _component_schemas(registry: EventRegistry) -> dict[str, Any]:
    """Every event's schema under its channel name, nested models hoisted beside them."""
    classes = list(registry)
    if not classes:
        return {}
    keys, top = models_json_schema(
        [(cls, "validation") for cls in classes], ref_template="#/components/schemas/{model}"
    )
    components: dict[str, Any] = dict(top.get("$defs", {}))
    for cls in classes:
        ref = keys[(cls, "validation")]["$ref"].rsplit("/", 1)[-1]
        schema = components.pop(ref)
        schema["x-loreweave-type"] = cls.TYPE
        schema["x-loreweave-version"] = cls.VERSION
        components[cls.TYPE.replace(".", "_")] = schema
    return components


def export_schemas(directory: Path, registry: EventRegistry = default_registry) -> list[Path]:
    """Write ``frame.schema.json``, one ``<type>.schema.json`` per event and ``asyncapi.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "frame.schema.json"]
    written[0].write_text(json.dumps(ENVELOPE_SCHEMA, indent=2) + "\n")
    for cls in registry:
        path = directory / f"{cls.TYPE}.schema.json"
        path.write_text(json.dumps(event_schema(cls), indent=2) + "\n")
        written.append(path)
    path = directory / "asyncapi.json"
    path.write_text(json.dumps(asyncapi_document(registry), indent=2) + "\n")
    written.append(path)
    return written
