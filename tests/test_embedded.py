"""The embedded nats-server as a child process: out of the terminal's signals, never left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

STARTER = """
import asyncio, sys
from pathlib import Path
from loreweave.embedded import EmbeddedNats

async def main():
    server = EmbeddedNats(Path(sys.argv[1]))
    await server.start()
    print(server._process.pid, flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, only not yet reaped
        return stat.read().split(") ")[1][0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_a_killed_parent_takes_the_embedded_server_with_it(tmp_path: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", STARTER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        assert alive(server_pid)
        assert os.getsid(server_pid) != os.getsid(parent.pid), "the server shares the terminal's session"
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while alive(server_pid):
            assert time.monotonic() < deadline, "nats-server outlived its killed parent"
            time.sleep(0.1)
    finally:
        parent.kill()
