"""A ``loreweave run`` node as a child process: ready on its signal, SIGTERM drains, SIGKILL kills."""

from __future__ import annotations

import signal
import sys

import pytest

from loreweave.actors.runtime import Bus, RequestError, frame_for
from loreweave.schemas import SettingsGet
from loreweave.testing import NodeError, NodeProcess, eventually, loreweave_run, node_env


@pytest.mark.slow
async def test_a_node_answers_once_ready_drains_on_sigterm_and_dies_on_sigkill(
    nats_server_url: str, bus: Bus, world: str, tmp_path
) -> None:
    node = NodeProcess(loreweave_run(["settings"]), node_env(nats_server_url, data_dir=tmp_path),
                       log_path=tmp_path / "node.log")
    await node.start(timeout=60)
    assert node.ready and node.pid is not None
    # Ready means subscribed: the first request is answered, with no retry.
    await bus.request(frame_for(SettingsGet(), world, "test"), timeout=5)
    assert await node.terminate() == 0
    assert "node stopped" in (tmp_path / "node.log").read_text()

    await node.start(timeout=60)
    assert await node.kill() == -signal.SIGKILL
    assert node.starts == 2 and not node.running

    async def nobody_answers() -> bool:  # the server drops a killed client's subscriptions on its EOF
        with pytest.raises(RequestError, match="no_responders|timeout") as refused:
            await bus.request(frame_for(SettingsGet(), world, "test"), timeout=0.5)
        return refused.value.code == "no_responders"

    await eventually(nobody_answers, timeout=10, message="no responder once the node is killed")


async def test_a_node_that_exits_before_it_is_ready_says_why(tmp_path) -> None:
    node = NodeProcess([sys.executable, "-c", "print('no such node'); raise SystemExit(3)"], node_env("nats://x:1"))
    with pytest.raises(NodeError, match="exited with code 3 before it was ready:\nno such node"):
        await node.start(timeout=30)


async def test_the_errors_a_node_logs_are_kept_with_their_exception(tmp_path) -> None:
    script = "\n".join([
        "import logging, sys",
        "logging.basicConfig(stream=sys.stdout, format='%(levelname)s %(name)s: %(message)s')",
        "print('x node started: a')",
        "try:",
        "    raise ValueError('no gaps')",
        "except ValueError:",
        "    logging.getLogger('t').exception('task a.persist died')",
    ])
    node = NodeProcess([sys.executable, "-c", script], node_env("nats://x:1"))
    await node.start(timeout=30)
    await node.wait()
    assert node.take_errors() == ["ERROR t: task a.persist died (ValueError: no gaps)"]
    assert node.take_errors() == []
