"""``loreweave up`` starts the console and prints its URL; ``loreweave console`` beside it finds the
bus and its designer credential in the data directory, as every client command does."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LOREWEAVE = [sys.executable, "-m", "loreweave"]
URL = re.compile(r"designers' console of (\S+) at (http://\S+)")


async def _url_line(process: asyncio.subprocess.Process, seen: list[str], timeout: float) -> tuple[str, str]:
    async def read() -> tuple[str, str]:
        assert process.stdout is not None
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError("the process ended without a console URL:\n" + "".join(seen)[-3000:])
            seen.append(line)
            found = URL.search(line)
            if found:
                return found.group(1), found.group(2)

    return await asyncio.wait_for(read(), timeout)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310  (a localhost URL we started)
        return response.read().decode()


async def test_up_prints_the_console_url_and_the_console_command_runs_beside_it(tmp_path: Path, fresh_dsn: str) -> None:
    env = {**os.environ, "LOREWEAVE_DATA_DIR": str(tmp_path / "data"), "LOREWEAVE_DATABASE_URL": fresh_dsn,
           "LOREWEAVE_LOG_LEVEL": "WARNING"}
    env.pop("LOREWEAVE_NATS_URL", None)
    up = await asyncio.create_subprocess_exec(
        *LOREWEAVE, "up", "--players", "1", env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    seen: list[str] = []
    console = None
    try:
        world, url = await _url_line(up, seen, 240)
        assert world == "thornwake"
        assert "Live story" in await asyncio.to_thread(_get, url + "story")
        console = await asyncio.create_subprocess_exec(
            *LOREWEAVE, "console", "--port", "0", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        own: list[str] = []
        _, second = await _url_line(console, own, 180)
        assert second != url
        ops = await asyncio.to_thread(_get, second + "ops")
        assert "Dead letters by reason" in ops and "needs an ops credential" not in ops
    finally:
        if console is not None and console.returncode is None:
            console.send_signal(signal.SIGTERM)
            await asyncio.wait_for(console.communicate(), 180)
        up.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(up.communicate(), 180)  # up waits for its sample ingestion thread
    assert console is not None and console.returncode == 0
    assert up.returncode == 0, ("".join(seen) + rest.decode())[-3000:]
