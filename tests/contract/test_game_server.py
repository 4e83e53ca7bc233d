"""A game server in another language, built from the exported contract alone, plays a world of `loreweave up`.

`up --port` starts the world (auth on) and writes the contract of its bus into its data dir; an AI
bridge with the scripted router answers ``lw.ai.*``; ``game_server.mjs`` (Node.js: ``nats``,
``@msgpack/msgpack``, ``ajv`` 2020) reads only those files and the role credential files.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import pytest

from loreweave.actors.runtime import Bus
from loreweave.embedded import free_port
from loreweave.schemas.channels import DLQ_REASONS, REQUESTS
from loreweave.serve.bridge import Bridge
from loreweave.serve.router import Router
from loreweave.serve.tiers import BridgeConfig, RouterConfig, WorldSettings
from loreweave.testing import eventually

from .conftest import run_node

pytestmark = pytest.mark.slow


@dataclass
class UpWorld:
    """A running ``loreweave up``: its data dir, its bus's port and its log."""

    data: Path
    port: int
    log: Path

    def log_tail(self) -> str:
        """The last lines ``up`` wrote (for failure messages)."""
        return self.log.read_text(errors="replace")[-3000:] if self.log.is_file() else ""


@pytest.fixture
async def up_world() -> AsyncIterator[UpWorld]:
    """``loreweave up --players 0 --port P`` in a data dir of its own."""
    # Not under pytest's tmp_path: the embedded PostgreSQL runs as its own user, which must reach the dir.
    folder = Path(tempfile.mkdtemp(prefix="lw-contract-"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOREWEAVE_")}
    world = UpWorld(folder / "data", free_port(), folder / "up.log")
    env.update(LOREWEAVE_DATA_DIR=str(world.data), LOREWEAVE_LOG_LEVEL="WARNING")
    with open(world.log, "wb") as log:  # a file, not a pipe nobody reads while up runs (a full pipe blocks up)
        up = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "loreweave", "up", "--players", "0", "--port", str(world.port), env=env,
            cwd=folder, stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
        )
    try:
        await eventually(
            lambda: (world.data / "schemas" / "asyncapi.json").is_file() or up.returncode is not None,
            timeout=180, message="loreweave up wrote no contract",
        )
        assert up.returncode is None, world.log_tail()
        yield world
    finally:
        if up.returncode is None:
            up.send_signal(signal.SIGTERM)
        await asyncio.wait_for(up.wait(), 120)
        output = world.log_tail()
        shutil.rmtree(folder, ignore_errors=True)
    assert up.returncode == 0, output


@pytest.fixture
async def ai_bridge(up_world: UpWorld) -> AsyncIterator[Bridge]:
    """The AI bus bridge on the world's bus, as the ``ai`` role, answering with the scripted fallback."""
    bus = await Bus.connect(f"nats://127.0.0.1:{up_world.port}", name="contract-ai",
                            credentials=up_world.data / "nats" / "credentials" / "ai.json")
    router = Router(RouterConfig(worlds={"default": WorldSettings(qos="scripted")}), {}, {})
    bridge = Bridge(bus, router, BridgeConfig())
    await bridge.start()
    yield bridge
    await bridge.close()
    await bus.close()


async def test_a_node_game_server_plays_from_the_exported_contract_alone(
    node_project: Path, up_world: UpWorld, ai_bridge: Bridge, world: str
) -> None:
    data, port = up_world.data, up_world.port
    contract = data / "schemas"
    document = json.loads((contract / "asyncapi.json").read_text())
    assert document["servers"]["loreweave"]["host"] == f"127.0.0.1:{port}"  # the bus up started, not 4222
    credentials = data / "nats" / "credentials"
    env = {
        "PATH": os.environ.get("PATH", ""), "LW_CONTRACT": str(contract), "LW_WORLD": world,
        "LW_GAME_CREDS": str(credentials / "game-server.json"), "LW_OPS_CREDS": str(credentials / "ops.json"),
        "LW_NODE_CREDS": str(credentials / "actor-node.json"), "LW_DEADLINE_MS": "180000",
    }
    done = await asyncio.to_thread(run_node, node_project, "game_server.mjs", env=env, timeout=400)
    assert done.stdout.strip(), done.stderr[-4000:] + "\n--- up:\n" + up_world.log_tail()
    report = json.loads(done.stdout)
    print(json.dumps(report, indent=1))
    assert report["failures"] == [] and done.returncode == 0, (
        report["failures"], done.stderr[-3000:], "up:", up_world.log_tail()
    )
    called = {key.split(" ", 1)[1] for key in report["requests"]}
    public = {request.subject for request in REQUESTS if not request.internal}
    assert public <= called, public - called
    assert {"world.opened", "player.joined", "player.met", "quest.accepted", "quest.completed"} <= set(report["events"])
    reasons = {key.split(" ", 1)[0] for key in report["deadLetters"]}
    assert reasons == set(DLQ_REASONS) - {"unknown_type", "handler_failed"}
    assert ai_bridge.counters["answered"] >= 2
    assert report["heartbeats"] > 0  # read on lw.sys.heartbeat.actor.{actor}, world "_"
