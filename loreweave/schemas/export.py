"""Export every event as JSON Schema (dialect 2020-12), and all subjects as one AsyncAPI 3.0 document.

Game servers written in C++, C# or Node.js build their frames from these files alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from loreweave.protocol.frame import FRAME_FIELDS
from loreweave.schemas.asyncapi import asyncapi_document as build_asyncapi
from loreweave.schemas.channels import MIN_TS_US, SCHEMA_DIALECT
from loreweave.schemas.base import Event
from loreweave.schemas.registry import EventRegistry, registry as default_registry

_ULID = {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"}
ENVELOPE_SCHEMA: dict[str, Any] = {
    "$schema": SCHEMA_DIALECT,
    "$id": "frame.schema.json",
    "title": "Loreweave frame",
    "description": "One MessagePack map; the payload's schema depends on `type`.",
    "type": "object",
    "additionalProperties": False,
    "required": list(FRAME_FIELDS),
    "properties": {
        "version": {"type": "string", "pattern": r"^\d+\.\d+$", "description": "Payload schema version."},
        "type": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"},
        "id": {**_ULID, "description": "Unique, time-sortable ULID; also the Nats-Msg-Id header."},
        "ts": {
            "type": "integer", "minimum": MIN_TS_US, "maximum": 253_402_300_799_000_000,
            "description": "Microseconds (not milliseconds) since the Unix epoch.",
        },
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
    schema["$schema"] = SCHEMA_DIALECT
    schema["$id"] = f"{cls.TYPE}.schema.json"
    schema["x-loreweave-type"] = cls.TYPE
    schema["x-loreweave-version"] = cls.VERSION
    if cls.KEY:
        schema["x-loreweave-key"] = cls.KEY
    return schema


def asyncapi_document(registry: EventRegistry = default_registry, *, server: str | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every subject (see :mod:`loreweave.schemas.asyncapi`).

    With ``server`` (``nats://HOST:PORT``), the document names that server.
    """
    return build_asyncapi(registry, server=server)


def component_schemas(registry: EventRegistry) -> dict[str, Any]:
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


def export_schemas(
    directory: Path, registry: EventRegistry = default_registry, *, server: str | None = None
) -> list[Path]:
    """Write ``frame.schema.json``, one ``<type>.schema.json`` per event and ``asyncapi.json``.

    With ``server`` (``nats://HOST:PORT``), the AsyncAPI document names that server.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "frame.schema.json"]
    written[0].write_text(json.dumps(ENVELOPE_SCHEMA, indent=2) + "\n")
    for cls in registry:
        path = directory / f"{cls.TYPE}.schema.json"
        path.write_text(json.dumps(event_schema(cls), indent=2) + "\n")
        written.append(path)
    # Last, and whole or not at all: a reader that sees asyncapi.json sees every schema file too.
    path = directory / "asyncapi.json"
    partial = directory / ".asyncapi.json.partial"
    partial.write_text(json.dumps(asyncapi_document(registry, server=server), indent=2) + "\n")
    partial.replace(path)
    written.append(path)
    return written
