"""The ``loreweave`` command as a user runs it: separate processes, real servers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from loreweave.actors.runtime import Bus

LOREWEAVE = [sys.executable, "-m", "loreweave"]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LOREWEAVE, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def test_schemas_export_writes_asyncapi_and_json_schema(tmp_path: Path) -> None:
    result = run("schemas", "export", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "out" / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    assert (tmp_path / "out" / "npc.said.schema.json").is_file()


def test_a_bad_setting_is_one_clear_line() -> None:
    result = run("tail", env={"LOREWEAVE_MAX_FRAME_BYTES": "lots"})
    assert result.returncode == 2
    assert "LOREWEAVE_MAX_FRAME_BYTES" in result.stderr and "Traceback" not in result.stderr


async def test_publish_then_tail_prints_a_readable_line(nats_server_url: str, world: str) -> None:
    env = {**os.environ, "LOREWEAVE_NATS_URL": nats_server_url}
    tail = await asyncio.create_subprocess_exec(
        *LOREWEAVE, "tail", f"lw.{world}.npc.>", "-n", "1", env=env, stdout=asyncio.subprocess.PIPE
    )
    await asyncio.sleep(2.0)  # let tail subscribe
    published = run("publish", f"lw.{world}.npc.said", '{"npc_id": "mira", "text": "Mind the bells"}', env=env)
    assert published.returncode == 0, published.stderr
    out, _ = await asyncio.wait_for(tail.communicate(), 20)
    line = out.decode()
    assert "npc.said" in line and "mira" in line and "Mind the bells" in line


def test_publish_refuses_a_bad_payload_with_the_field(nats_server_url: str, world: str) -> None:
    result = run("publish", f"lw.{world}.npc.said", '{"text": "no speaker"}',
                 env={"LOREWEAVE_NATS_URL": nats_server_url})
    assert result.returncode == 2
    assert "payload.npc_id" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["sigterm", "ctrl-c"])
async def test_up_runs_a_living_world_on_embedded_servers_and_stops_cleanly(tmp_path: Path, stop: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOREWEAVE_")}
    env["LOREWEAVE_DATA_DIR"] = str(tmp_path / "data")
    up = await asyncio.create_subprocess_exec(
        *LOREWEAVE, "up", "--players", "3", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    url_file = tmp_path / "data" / "nats.url"
    try:
        for _ in range(600):
            if url_file.is_file():
                break
            await asyncio.sleep(0.1)
        assert url_file.is_file(), "up did not start its embedded NATS"
        bus = await Bus.connect(url_file.read_text().strip())
        beats: list[str] = []

        async def keep(msg: object) -> None:
            beats.append(bus.decode(msg.data).type)  # type: ignore[attr-defined]

        await bus.nc.subscribe("lw.*.narrative.>", cb=keep)
        await bus.sync()
        for _ in range(600):
            if beats:
                break
            await asyncio.sleep(0.1)
        await bus.close()
        assert beats, "no narrative frame within 60 s"
    finally:
        if stop == "sigterm":  # as an orchestrator stops it
            up.send_signal(signal.SIGTERM)
        else:  # a terminal's Ctrl-C reaches the whole foreground group, child processes included
            os.killpg(up.pid, signal.SIGINT)
        output, _ = await asyncio.wait_for(up.communicate(), 60)
    assert up.returncode == 0, output.decode()[-3000:]
    # The bus outlives the actors' drain: no connection saw the server go away under it.
    assert "unexpected EOF" not in output.decode() and "Connect call failed" not in output.decode()
    assert not url_file.exists(), "the embedded NATS URL was left behind"
    leftover = subprocess.run(["pgrep", "-f", str(tmp_path / "data")], capture_output=True, text=True)
    assert leftover.stdout.strip() == "", "an embedded server outlived loreweave up"
