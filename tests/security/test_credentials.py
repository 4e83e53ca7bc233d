"""Credential files: made once with mode 0600, never printed, found by each command, changed live."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import nats
import pytest

from loreweave.actors.runtime import Bus
from loreweave.cli.connection import record_embedded_url
from loreweave.config import load_settings
from loreweave.embedded import EmbeddedNats
from loreweave.security import ROLES, redact_url
from loreweave.testing import eventually

LOREWEAVE = [sys.executable, "-m", "loreweave"]


def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("LOREWEAVE_")}
    return subprocess.run([*LOREWEAVE, *args], capture_output=True, text=True, timeout=timeout, env={**clean, **env})


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_each_role_gets_a_private_credential_made_once_and_reused(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    await server.start()
    passwords = {name: json.loads(server.auth.path(name).read_text())["password"] for name in ROLES}
    await server.stop()
    assert mode(server.auth.credentials_dir) == 0o700
    assert all(mode(server.auth.path(name)) == 0o600 for name in ROLES)
    assert mode(server.auth.config_path) == 0o600
    await server.start()  # a restart reuses them: clients keep working
    try:
        again = {name: json.loads(server.auth.path(name).read_text())["password"] for name in ROLES}
        assert again == passwords
        nc = await nats.connect(server.client_url("game-server"))
        await nc.close()
    finally:
        await server.stop()
    log = (tmp_path / "nats" / "nats-server.log").read_text()
    assert not any(password in log for password in passwords.values())


def test_passwords_in_urls_are_redacted() -> None:
    assert redact_url("nats://u:s3cret@h:4222") == "nats://u:***@h:4222"
    assert redact_url("nats://tok3n@h:4222") == "nats://***@h:4222"
    assert redact_url("nats://a:x@h1:4222,nats://b:y@h2:4222") == "nats://a:***@h1:4222,nats://b:***@h2:4222"
    assert redact_url("nats://h:4222") == "nats://h:4222"


async def test_auth_create_and_revoke_change_a_running_server_without_a_restart(secured: EmbeddedNats) -> None:
    data_dir = secured.data_dir.parent
    name, world = "gs-" + uuid.uuid4().hex[:8], "w" + uuid.uuid4().hex[:8]
    created = run("auth", "create", "game-server", name, "--worlds", f"{world},other",
                  env={"LOREWEAVE_DATA_DIR": str(data_dir)})
    assert created.returncode == 0, created.stderr
    path = secured.auth.path(name)
    assert mode(path) == 0o600 and str(path) in created.stdout and "accepts the change now" in created.stdout
    password = json.loads(path.read_text())["password"]
    assert password not in created.stdout + created.stderr
    assert json.loads(path.read_text())["worlds"] == sorted([world, "other"])

    async def accepted() -> bool:
        try:
            nc = await nats.connect(secured.url, user=name, password=password, allow_reconnect=False)
        except Exception:
            return False
        await nc.close()
        return True

    await eventually(accepted, timeout=10, message="the new credential was not accepted")
    held = await Bus.connect(secured.url, credentials=path)
    revoked = run("auth", "revoke", name, env={"LOREWEAVE_DATA_DIR": str(data_dir)})
    assert revoked.returncode == 0, revoked.stderr
    assert not path.exists()
    await eventually(_not(accepted), timeout=10, message="the revoked credential still connects")
    await eventually(lambda: held.nc.is_closed or not held.nc.is_connected, timeout=10,
                     message="a connection of the revoked credential stayed open")
    await held.close()
    refused = run("auth", "revoke", "actor-node", env={"LOREWEAVE_DATA_DIR": str(data_dir)})
    assert refused.returncode == 2 and "cannot be revoked" in refused.stderr


def _not(check):  # type: ignore[no-untyped-def]
    async def negated() -> bool:
        return not await check()
    return negated


async def test_commands_find_their_roles_credential_and_print_no_password(secured: EmbeddedNats) -> None:
    data_dir = secured.data_dir.parent
    settings = load_settings({"LOREWEAVE_DATA_DIR": str(data_dir)})
    node = await Bus.connect(secured.url, credentials=secured.auth.path("actor-node"))
    await node.ensure_streams()
    await node.close()
    record_embedded_url(settings, secured.client_url("admin"))  # as `loreweave up` does
    assert (data_dir / "nats.url").read_text().strip() == secured.url, "credentials written beside the URL"
    env = {"LOREWEAVE_DATA_DIR": str(data_dir)}
    world = "w" + uuid.uuid4().hex[:8]
    joined = run("publish", f"lw.{world}.player.joined", '{"player_id": "p1", "name": "Ada"}', env=env)
    assert joined.returncode == 0, joined.stderr  # as the game server, found in the data dir
    forged = run("publish", f"lw.{world}.npc.said", '{"npc_id": "mira", "text": "Free gold"}', env=env)
    assert forged.returncode == 2 and "may not publish" in forged.stderr, forged.stderr
    spying = run("tail", f"lw.{world}.payment.>", "-n", "1", env=env)  # as a designer: no purchases
    assert spying.returncode == 2 and "may not subscribe" in spying.stderr, spying.stderr
    admin = run("publish", f"lw.{world}.npc.said", '{"npc_id": "mira", "text": "Hello"}',
                env={**env, "LOREWEAVE_NATS_CREDS": str(secured.auth.path("admin"))})
    assert admin.returncode == 0, admin.stderr

    url = secured.client_url("actor-node")
    password = url.split(":")[2].split("@")[0]
    banner = run("run", "--actors", "weather", "--for", "0.5", env={"LOREWEAVE_NATS_URL": url})
    assert banner.returncode == 0, banner.stderr
    assert "actor-node:***@" in banner.stdout and password not in banner.stdout + banner.stderr
    (data_dir / "nats.url").unlink()
