"""One valid example payload and frame per event type, for the exported contract.

A hand-written example where one reads better (:data:`EXAMPLES`), else the smallest payload the
event's JSON Schema accepts: required fields only, each given the first value its constraints allow.
"""

from __future__ import annotations

import re
from typing import Any

from loreweave.schemas.base import Event

#: The example world, frame id and time of every exported example.
EXAMPLE_WORLD = "w1"
EXAMPLE_ID = "01JGZ0K5Q8D4N6V3S1X7T2M9AB"
EXAMPLE_TS = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds

#: Hand-written payloads for the types a game server uses most.
EXAMPLES: dict[str, dict[str, Any]] = {
    "world.opened": {
        "title": "Thornwake",
        "regions": [
            {"id": "harbor", "name": "The Harbor", "biome": "coast", "neighbours": ["market"]},
            {"id": "market", "name": "Market Square", "biome": "town", "neighbours": ["harbor"]},
        ],
        "factions": ["guild"],
    },
    "player.joined": {"player_id": "p1", "name": "Ada", "region": "harbor"},
    "player.moved": {"player_id": "p1", "region": "market"},
    "npc.spawned": {"npc_id": "mira", "name": "Mira", "region": "harbor"},
    "quest.accept": {"player_id": "p1", "quest_id": "lantern-of-saint-irri"},
    "world.query": {"kind": "region", "id": "harbor"},
    "settings.update": {"changes": {"npc_chatter": 0.5}},
    "ai.generate": {"kind": "dialogue", "prompt": "Greet the traveller.", "context": {"npc": "Mira"}},
    "sys.error": {"code": "bad_request", "message": "unknown quest 'q9'", "field": "quest_id"},
}

_STRING_CANDIDATES = ("example", "p1", "w1", "1.0", "x", "a" * 8)


def example_payload(cls: type[Event]) -> dict[str, Any]:
    """A payload of ``cls`` that its JSON Schema and its model both accept."""
    if cls.TYPE in EXAMPLES:
        return dict(EXAMPLES[cls.TYPE])
    schema = cls.model_json_schema()
    value = _example(schema, schema.get("$defs", {}), 0)
    return value if isinstance(value, dict) else {}


def example_frame(cls: type[Event], world: str = EXAMPLE_WORLD) -> dict[str, Any]:
    """A whole frame (the MessagePack map, shown as JSON) carrying :func:`example_payload`."""
    return {
        "version": cls.VERSION,
        "type": cls.TYPE,
        "id": EXAMPLE_ID,
        "ts": EXAMPLE_TS,
        "world": world,
        "source": "game-server",
        "correlation_id": EXAMPLE_ID,
        "causation_id": None,
        "payload": example_payload(cls),
    }


def _example(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> Any:
    if depth > 8:
        return None
    if "$ref" in schema:
        return _example(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = [option for option in schema[union] if option.get("type") != "null"] or schema[union]
            return _example(options[0], defs, depth + 1)
    if "allOf" in schema:
        return _example(schema["allOf"][0], defs, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: _example(properties.get(name, {}), defs, depth + 1) for name in schema.get("required", [])}
    if kind == "array":
        item = _example(schema.get("items", {}), defs, depth + 1)
        return [item] * int(schema.get("minItems", 0))
    if kind == "string":
        return _string(schema)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0))
        value = max(low, 1) if "maximum" not in schema or schema["maximum"] >= 1 else low
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    return None


def _string(schema: dict[str, Any]) -> str:
    low, high = int(schema.get("minLength", 0)), int(schema.get("maxLength", 64))
    pattern = schema.get("pattern")
    for candidate in _STRING_CANDIDATES:
        if low <= len(candidate) <= high and (pattern is None or re.search(pattern, candidate)):
            return candidate
    return "x" * max(low, 1)
