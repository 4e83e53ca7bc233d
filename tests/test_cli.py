"""The ``loreweave`` command as a user runs it: separate processes, real servers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loreweave.actors.runtime import Bus
from loreweave.schemas import PlayerJoined

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
        # A designer follows the story with the credential file `up` made (and printed the path of).
        designer = tmp_path / "data" / "nats" / "credentials" / "designer.json"
        bus = await Bus.connect(url_file.read_text().strip(), credentials=designer)
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
        if stop == "sigterm":  # once is enough: what a second command does beside a running world
            await _beside_a_running_up(env, tmp_path)
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


async def _beside_a_running_up(env: dict[str, str], cwd: Path) -> None:
    """A second `up` on the same data dir is refused; `simulate` plays against the running actors."""
    second = await asyncio.create_subprocess_exec(
        *LOREWEAVE, "up", env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(second.communicate(), 60)
    assert second.returncode == 2 and "another `loreweave up`" in err.decode(), err.decode()
    simulate = await asyncio.create_subprocess_exec(
        *LOREWEAVE, "simulate", "--players", "2", "--minutes", "0.05", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(simulate.communicate(), 120)
    assert simulate.returncode == 0, out.decode()[-2000:]
    assert "actors already run on the bus" in out.decode(), out.decode()[-2000:]


@pytest.mark.parametrize(
    "command", [("publish", "lw.w1.player.joined", '{"player_id": "p1"}'), ("run", "--actors", "weather", "--wait", "1")]
)
def test_an_unreachable_nats_is_one_clear_line_not_a_hang(command: tuple[str, ...]) -> None:
    with socket.socket() as unused:  # bound, never listening: connections are refused
        unused.bind(("127.0.0.1", 0))
        url = f"nats://127.0.0.1:{unused.getsockname()[1]}"
        started = time.monotonic()
        result = run(*command, env={"LOREWEAVE_NATS_URL": url}, timeout=40)
    assert result.returncode == 2 and time.monotonic() - started < 30
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "LOREWEAVE_NATS_URL" in lines[0] and url in lines[0], result.stderr
    assert "--wait" in lines[0]


async def test_sigterm_stops_a_node_with_a_backlog_within_the_drain_bound(nats_server_url: str, world: str) -> None:
    bus = await Bus.connect(nats_server_url, name="test-backlog")
    said = asyncio.Event()

    async def busy(msg: object) -> None:
        said.set()

    await bus.nc.subscribe(f"lw.{world}.npc.said", cb=busy)
    await bus.sync()
    env = {**os.environ, "LOREWEAVE_NATS_URL": nats_server_url, "LOREWEAVE_DRAIN_TIMEOUT_S": "2",
           "LOREWEAVE_MAILBOX_CAPACITY": "4", "LOREWEAVE_LOG_LEVEL": "INFO"}
    node = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.actors.slow_node", world, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        assert node.stdout is not None
        seen: list[bytes] = []
        async with asyncio.timeout(60):
            while b"node started:" not in (line := await node.stdout.readline()):
                assert line, b"".join(seen).decode()[-2000:]  # it exited before it was ready
                seen.append(line)
        await bus.emit(PlayerJoined(player_id="first"), world, source="test")
        await asyncio.wait_for(said.wait(), 10)  # the node is busy on its first frame
        for number in range(100):  # a backlog: 4 in the mailbox, 32 queued by the client, the rest dropped
            await bus.emit(PlayerJoined(player_id=f"p{number}"), world, source="test")
        await bus.sync()
        node.send_signal(signal.SIGTERM)
        started = time.monotonic()
        output, _ = await asyncio.wait_for(node.communicate(), 20)
        stopped_in = time.monotonic() - started
    finally:
        if node.returncode is None:
            node.kill()
            await node.wait()
        await bus.close()
    assert node.returncode == 0, output.decode()[-2000:]
    assert stopped_in < 2 + 8, f"stopped in {stopped_in:.1f}s"  # the drain bound, the bus's close, the exit
    assert "did not drain within 2s" in output.decode()


async def test_request_by_type_or_subject_pretty_prints_the_answer(nats_server_url: str, world: str, start_node) -> None:
    from loreweave.actors.catalog import build_actors

    await start_node(*build_actors(["world"], seed=1))
    bus = await Bus.connect(nats_server_url)
    try:
        from loreweave.actors.runtime import frame_for
        from loreweave.schemas import RegionSpec, WorldOpened

        await bus.publish(frame_for(WorldOpened(regions=[RegionSpec(id="harbor", name="The Harbor")]), world, "t"),
                          durable=True)
    finally:
        await bus.close()
    env = {"LOREWEAVE_NATS_URL": nats_server_url}
    query = '{"kind": "region", "id": "harbor"}'
    for _ in range(100):  # the world actor applies world.opened shortly after its ack
        by_type = await asyncio.to_thread(run, "request", "world.query", "--world", world, "--payload", query, env=env)
        if '"found": true' in by_type.stdout:
            break
        await asyncio.sleep(0.1)
    assert by_type.returncode == 0, by_type.stderr
    answer = json.loads(by_type.stdout)
    assert answer["type"] == "world.answer" and answer["payload"]["value"]["name"] == "The Harbor"
    assert answer["correlation_id"] == answer["causation_id"]  # the request's id, a root frame
    by_subject = await asyncio.to_thread(run, "request", f"lw.rpc.{world}.world.query", "--payload", '{"kind": "npc", "id": "nobody"}', env=env)
    assert by_subject.returncode == 0 and json.loads(by_subject.stdout)["payload"]["found"] is False
    refused = await asyncio.to_thread(run, "request", "world.query", "--world", world, "--payload", '{"kind": "moon", "id": "x"}', env=env)
    assert refused.returncode == 2 and "payload.kind" in refused.stderr and "Traceback" not in refused.stderr
    unknown = await asyncio.to_thread(run, "request", "world.snapshot", "--world", world, env=env)
    assert unknown.returncode == 2 and "is no request type" in unknown.stderr and "world.query" in unknown.stderr


async def test_request_answered_with_sys_error_exits_1_and_shows_it(nats_server_url: str, world: str, start_node) -> None:
    from loreweave.actors.catalog import build_actors

    await start_node(*build_actors(["world"], seed=1))
    env = {"LOREWEAVE_NATS_URL": nats_server_url}
    result = await asyncio.to_thread(run, "request", f"lw.rpc.{world}.world.get_snapshot", env=env)
    assert result.returncode == 1, result.stderr
    error = json.loads(result.stdout)
    assert error["type"] == "sys.error" and error["payload"]["code"] == "bad_request"
    nobody = await asyncio.to_thread(run, "request", "weather.get_report", "--world", world, "--timeout", "2", env=env)
    assert nobody.returncode == 2 and "nobody answers on" in nobody.stderr, nobody.stderr


async def test_tail_hides_ticks_and_heartbeats_unless_all(nats_server_url: str, world: str) -> None:
    from loreweave.actors.runtime import frame_for
    from loreweave.cli.bus_commands import follow_pattern, tail
    from loreweave.schemas import ClockTick, NpcSaid, PlayerHeartbeat

    assert follow_pattern(None, world) == f"lw.{world}.*.*"
    assert follow_pattern("lw.*.npc.>", world) == f"lw.{world}.npc.>"
    assert follow_pattern(None, None) == "lw.*.narrative.>"
    bus = await Bus.connect(nats_server_url)
    try:
        for show_all, expected in ((False, {"npc.said"}), (True, {"clock.tick", "player.heartbeat", "npc.said"})):
            lines: list[str] = []
            follow = asyncio.create_task(
                tail(nats_server_url, follow_pattern(None, world), 6, lines.append, show_all=show_all)
            )
            while not follow.done():  # until tail has subscribed and shown six frames
                for event in (ClockTick(tick=1, game_minutes=1), PlayerHeartbeat(player_id="p1"),
                              NpcSaid(npc_id="mira", text="Mind the bells")):
                    await bus.publish(frame_for(event, world, "test"))
                await asyncio.wait({follow}, timeout=0.05)
            await follow
            assert {line.split()[2] for line in lines} == expected, lines
    finally:
        await bus.close()


def test_history_never_creates_a_database_where_none_exists(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOREWEAVE_")}
    env["LOREWEAVE_DATA_DIR"] = str(tmp_path / "data")
    result = subprocess.run([*LOREWEAVE, "history", "w1"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2 and "no database in" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "data" / "postgres").exists()


async def test_history_shows_whole_payloads_and_the_correlation_its_filter_takes(
    pg_dsn: str, db_schema: str, database, world: str
) -> None:
    from loreweave.protocol import Frame

    story = Frame(type="npc.said", world=world, payload={"npc_id": "mira", "text": "bells " * 40}, source="npc")
    reply = story.caused("narrative.beat", {"text": "The bells answer."}, source="storyteller", index=0)
    other = Frame(type="npc.said", world=world, payload={"npc_id": "oren", "text": "eels"}, source="npc")
    for frame in (story, reply, other):
        await database.journal.append(frame)
    dsn = f"{pg_dsn}{'&' if '?' in pg_dsn else '?'}search_path={db_schema},public"
    env = {"LOREWEAVE_DATABASE_URL": dsn}
    shown = await asyncio.to_thread(run, "history", world, env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == 3 and ("bells " * 40).strip() in lines[0]  # the whole payload, not cut at 100 characters
    correlation = lines[0].split("correlation=")[1].split()[0]
    assert correlation == story.id
    conversation = await asyncio.to_thread(run, "history", world, "--correlation", correlation, env=env)
    assert [line.split()[1] for line in conversation.stdout.splitlines()] == ["npc.said", "narrative.beat"]


def test_up_refuses_a_port_that_is_taken(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOREWEAVE_")}
    env["LOREWEAVE_DATA_DIR"] = str(tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([*LOREWEAVE, "up", "--port", str(port)], capture_output=True, text=True, timeout=60,
                                env=env)
    assert result.returncode == 2 and f"--port: 127.0.0.1:{port} is not free" in result.stderr, result.stderr
    assert not (tmp_path / "data" / "postgres").exists()  # refused before anything started


def test_schemas_export_names_the_server_given_without_its_password(tmp_path: Path) -> None:
    result = run("schemas", "export", str(tmp_path / "out"), "--server", "nats://game:hunter2@10.1.2.3:4333")
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout and "10.1.2.3:4333" in result.stdout
    document = json.loads((tmp_path / "out" / "asyncapi.json").read_text())
    assert document["servers"]["loreweave"]["host"] == "10.1.2.3:4333"
    refused = run("schemas", "export", str(tmp_path / "bad"), "--server", "http://10.1.2.3")
    assert refused.returncode == 2 and "--server" in refused.stderr


async def test_request_on_the_ai_stream_prints_each_chunk_then_the_result(nats_server_url: str, world: str) -> None:
    from loreweave.serve.bridge import Bridge
    from loreweave.serve.router import Router
    from loreweave.serve.tiers import BridgeConfig, RouterConfig, WorldSettings

    bus = await Bus.connect(nats_server_url)
    scripted = Router(RouterConfig(worlds={"default": WorldSettings(qos="scripted")}), {}, {})
    # The shared queue group: if another bridge of the session's bus answers instead, it streams just the same.
    bridge = Bridge(bus, scripted, BridgeConfig())
    await bridge.start()
    try:
        result = await asyncio.to_thread(
            run, "request", "lw.ai.stream", "--world", world, "--payload", '{"kind": "dialogue", "prompt": "hi"}',
            env={"LOREWEAVE_NATS_URL": nats_server_url},
        )
    finally:
        await bridge.close()
        await bus.close()
    assert result.returncode == 0, result.stderr
    decoder, text, frames = json.JSONDecoder(), result.stdout, []
    while text.strip():
        frame, end = decoder.raw_decode(text.lstrip())
        frames.append(frame)
        text = text.lstrip()[end:]
    assert len(frames) > 2 and {f["type"] for f in frames[:-1]} == {"ai.chunk"} and frames[-1]["type"] == "ai.result"
    assert "".join(f["payload"]["text"] for f in frames[:-1]) == frames[-1]["payload"]["text"]
