import json
from pathlib import Path

import jsonschema

from loreweave.schemas import ENVELOPE_SCHEMA, asyncapi_document, export_schemas, registry


def test_export_writes_a_valid_json_schema_per_event(tmp_path: Path) -> None:
    written = export_schemas(tmp_path)
    names = {path.name for path in written}
    assert {"asyncapi.json", "frame.schema.json", "npc.said.schema.json", "player.joined.schema.json"} <= names
    for cls in registry:
        schema = json.loads((tmp_path / f"{cls.TYPE}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["x-loreweave-type"] == cls.TYPE
    said = json.loads((tmp_path / "npc.said.schema.json").read_text())
    jsonschema.validate({"npc_id": "n1", "text": "hi"}, said)
    try:
        jsonschema.validate({"text": "hi"}, said)
    except jsonschema.ValidationError as exc:
        assert "npc_id" in exc.message
    else:
        raise AssertionError("a payload without npc_id validated")


def test_envelope_schema_accepts_a_real_frame() -> None:
    import msgpack

    from loreweave.protocol import Frame, encode_frame

    jsonschema.Draft202012Validator.check_schema(ENVELOPE_SCHEMA)
    data = msgpack.unpackb(encode_frame(Frame(type="npc.said", world="w1", payload={}, source="t")))
    jsonschema.validate(data, ENVELOPE_SCHEMA)


def test_asyncapi_document_routes_every_event_with_resolvable_refs() -> None:
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    said = document["channels"]["npc_said"]
    assert said["address"] == "lw.{world}.npc.said"
    routed = {ref["$ref"].rsplit("/", 1)[-1] for channel in document["channels"].values()
              for ref in channel["messages"].values()}
    assert routed == set(document["components"]["messages"])

    def resolve(ref: str) -> object:
        node: object = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # type: ignore[index]
        return node

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node and node["$ref"].startswith("#/"):
                resolve(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
