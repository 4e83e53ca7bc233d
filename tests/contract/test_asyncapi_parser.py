"""The exported AsyncAPI document passes the official parser (npm ``@asyncapi/parser``)."""

from __future__ import annotations

import json
from pathlib import Path

from loreweave.schemas import export_schemas
from loreweave.schemas.channels import REQUESTS

from .conftest import run_node


def test_the_official_parser_accepts_the_document_with_every_request_reply(node_project: Path, tmp_path: Path) -> None:
    export_schemas(tmp_path, server="nats://127.0.0.1:4333")
    done = run_node(node_project, "validate.mjs", str(tmp_path))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["valid"] and summary["errors"] == []
    assert summary["replies"] == len(REQUESTS)
    addresses = summary["addresses"]
    assert "lw.rpc.{world}.quest.accept" in addresses and "lw.{world}.quest.accept" not in addresses
    assert {"lw.ai.generate", "lw.ai.stream", "lw.dlq.{reason}", "lw.sys.heartbeat.actor.{actor}"} <= set(addresses)


def test_the_parser_refuses_a_broken_document(node_project: Path, tmp_path: Path) -> None:
    export_schemas(tmp_path)
    document = json.loads((tmp_path / "asyncapi.json").read_text())
    document["operations"]["answer_rpc_world_query"]["reply"]["messages"].append(
        {"$ref": "#/channels/rpc_world_query_reply/messages/npc_said"}
    )
    (tmp_path / "asyncapi.json").write_text(json.dumps(document))
    done = run_node(node_project, "validate.mjs", str(tmp_path))
    assert done.returncode == 1 and not json.loads(done.stdout)["valid"]
