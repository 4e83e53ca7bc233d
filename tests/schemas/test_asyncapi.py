"""The AsyncAPI document tells the truth: the subjects, replies and constants the runtime really uses."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path

import jsonschema
import pytest

from loreweave.actors.catalog import ACTORS
from loreweave.actors.lore import Lore
from loreweave.actors.players import Players
from loreweave.actors.runtime import DLQ_STREAM, EVENTS_STREAM, StreamLimits
from loreweave.protocol import DEFAULT_MAX_FRAME_BYTES, ConfigError, heartbeat_subject, request_subject
from loreweave.schemas import asyncapi_document, export_schemas, registry
from loreweave.schemas import channels as table
from loreweave.schemas.examples import example_payload
from loreweave.schemas.export import event_schema
from loreweave.security.roles import GAME_SERVER_EVENTS


def _reply_handlers() -> dict[str, tuple[str, str]]:
    """Request type -> (subject pattern, reply type), from the actors' ``@reply`` declarations."""
    found: dict[str, tuple[str, str]] = {}
    for cls in [*ACTORS.values(), Lore]:
        for name, method in inspect.getmembers(cls, inspect.isfunction):
            for spec in getattr(method, "__lw_specs__", ()):
                if spec.kind != "request":
                    continue
                hints = typing.get_type_hints(method)
                request = next(hint for key, hint in hints.items() if key not in ("ctx", "return"))
                found[request.TYPE] = (spec.pattern, hints["return"].TYPE)
    return found


def test_every_request_an_actor_answers_is_in_the_table_with_its_subject_and_reply() -> None:
    handlers = _reply_handlers()
    assert len(handlers) >= 20
    table_rpc = {r.type: r for r in table.REQUESTS if r.subject.startswith("lw.rpc.")}
    assert set(handlers) == set(table_rpc)
    for request_type, (pattern, reply) in handlers.items():
        request = table_rpc[request_type]
        assert request.replies == (reply,), request_type
        assert pattern.replace("*", "{world}", 1) == request.subject
        assert request_subject("w1", request_type) == request.subject.replace("{world}", "w1")


def test_the_document_models_requests_on_their_real_subjects_with_replies() -> None:
    document = asyncapi_document()
    channels, operations = document["channels"], document["operations"]
    addresses = {channel["address"] for channel in channels.values()}
    assert "lw.rpc.{world}.world.query" in addresses and "lw.{world}.world.query" not in addresses
    assert "lw.{world}.world.answer" not in addresses and "lw.{world}.sys.error" not in addresses
    assert {"lw.ai.generate", "lw.ai.stream"} <= addresses
    assert not any(address and address.startswith("lw.{world}.ai.") for address in addresses)
    answers = [op for op in operations.values() if "reply" in op]
    assert len(answers) == len(table.REQUESTS)
    for operation in answers:
        assert operation["action"] == "receive"
        reply_channel = operation["reply"]["channel"]["$ref"].rsplit("/", 1)[-1]
        assert channels[reply_channel]["address"] is None  # the requester's inbox
        replied = [ref["$ref"].rsplit("/", 1)[-1] for ref in operation["reply"]["messages"]]
        assert "sys_error" in replied
    query = operations["answer_rpc_world_query"]
    assert [r["$ref"] for r in query["reply"]["messages"]] == [
        "#/channels/rpc_world_query_reply/messages/world_answer", "#/channels/rpc_world_query_reply/messages/sys_error"
    ]
    stream = operations["answer_request_ai_stream"]
    assert stream["x-loreweave-stream-reply"] is True
    assert {r["$ref"].rsplit("/", 1)[-1] for r in stream["reply"]["messages"]} == {"ai_chunk", "ai_result", "sys_error"}


def test_system_subjects_and_dead_letters_have_no_world_address() -> None:
    document = asyncapi_document()
    heartbeat = document["channels"]["actor_heartbeat"]
    assert heartbeat["address"] == "lw.sys.heartbeat.actor.{actor}"
    assert heartbeat_subject("clock") == heartbeat["address"].replace("{actor}", "clock")
    dlq = document["channels"]["dead_letters"]
    assert dlq["address"] == "lw.dlq.{reason}" and dlq["x-loreweave-stream"] == DLQ_STREAM
    assert set(dlq["parameters"]["reason"]["enum"]) == set(table.DLQ_REASONS)
    headers = document["components"]["messages"]["dead_letter"]["headers"]
    assert {"Lw-Dlq-Reason", "Lw-Dlq-Error", "Lw-Dlq-Subject"} <= set(headers["required"])
    assert document["components"]["messages"]["sys_error"]["headers"]["required"] == ["Lw-Error"]
    for name, message in document["components"]["messages"].items():
        if name != "dead_letter":
            assert {"Nats-Msg-Id", "traceparent"} <= set(message["headers"]["properties"]), name


def test_constants_stated_are_the_runtimes() -> None:
    assert table.DEDUP_WINDOW_S == StreamLimits().duplicate_window_s
    assert table.DLQ_STREAM == DLQ_STREAM and table.EVENTS_STREAM == EVENTS_STREAM
    assert table.MAX_FRAME_BYTES == DEFAULT_MAX_FRAME_BYTES
    assert table.PLAYER_SESSION_TIMEOUT_S == Players().session_timeout_s
    info = asyncapi_document()["info"]
    assert info["x-loreweave-schema-dialect"] == "https://json-schema.org/draft/2020-12/schema"
    assert info["x-loreweave-dedup-window-s"] == 120 and info["x-loreweave-subject-authoritative"] is True
    assert "x-loreweave-key" in info["description"] and "lw.rpc." in info["description"]


def test_game_server_inputs_are_received_and_actor_outputs_sent() -> None:
    operations = asyncapi_document()["operations"]
    received = {op["x-loreweave-publisher"] for name, op in operations.items() if name.startswith("receive_")}
    assert received == {"game-server"}
    assert {name.removeprefix("receive_") for name in operations if name.startswith("receive_")} == {
        event.replace(".", "_") for event in GAME_SERVER_EVENTS
    }
    assert operations["receive_player_joined"]["action"] == "receive"
    assert operations["send_npc_said"]["action"] == "send"
    assert operations["send_player_left"]["x-loreweave-publisher"] == "actor-node"  # session timeouts


def test_every_example_is_valid_for_its_schema_and_model() -> None:
    document = asyncapi_document()
    frame_schema = document["components"]["schemas"]["Frame"]
    for cls in registry:
        payload = example_payload(cls)
        cls.model_validate(payload)
        jsonschema.validate(payload, event_schema(cls))
        example = document["components"]["messages"][cls.TYPE.replace(".", "_")]["examples"][0]["payload"]
        jsonschema.validate(example, frame_schema)
        assert example["payload"] == payload and example["type"] == cls.TYPE
        if cls.KEY:
            assert document["components"]["messages"][cls.TYPE.replace(".", "_")]["x-loreweave-key"] == cls.KEY


def test_ts_in_milliseconds_fails_the_frame_schema() -> None:
    schema = asyncapi_document()["components"]["schemas"]["Frame"]
    example = asyncapi_document()["components"]["messages"]["player_joined"]["examples"][0]["payload"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**example, "ts": example["ts"] // 1000}, schema)


def test_server_comes_from_the_url_given_without_credentials(tmp_path: Path) -> None:
    assert "servers" not in asyncapi_document()
    export_schemas(tmp_path, server="nats://game:secret@10.0.0.5:4333")
    document = json.loads((tmp_path / "asyncapi.json").read_text())
    assert document["servers"]["loreweave"]["host"] == "10.0.0.5:4333"
    assert "secret" not in (tmp_path / "asyncapi.json").read_text()
    with pytest.raises(ConfigError) as refused:
        asyncapi_document(server="http://example.com")
    assert refused.value.field == "--server"


def test_a_frame_with_ts_in_milliseconds_is_refused_as_the_document_says() -> None:
    import time

    import msgpack

    from loreweave.protocol import Frame, FrameError, decode_frame, encode_frame

    wire = msgpack.unpackb(encode_frame(Frame(type="player.moved", world="w1", payload={}, source="game")))
    wire["ts"] = int(time.time() * 1000)
    with pytest.raises(FrameError) as refused:
        decode_frame(msgpack.packb(wire))
    assert refused.value.field == "ts" and refused.value.code == "malformed" and "milliseconds" in str(refused.value)
    assert str(table.MIN_TS_US) in asyncapi_document()["info"]["description"]
