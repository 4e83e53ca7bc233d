"""TLS on the bus, one setting: a self-signed CA made here, a server that requires TLS, clients that check it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, AsyncIterator

import nats
import pytest

from loreweave.actors.runtime import Bus
from loreweave.cli.connection import record_embedded_url
from loreweave.config import load_settings
from loreweave.embedded import EmbeddedNats
from loreweave.protocol import ConfigError, LoreweaveError
from loreweave.security.devcerts import make_dev_certificates
from loreweave.security.tls import BusTls
from loreweave.testing import eventually


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> BusTls:
    return make_dev_certificates(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
async def tls_server(tmp_path_factory: pytest.TempPathFactory, certificates: BusTls) -> AsyncIterator[EmbeddedNats]:
    """An embedded server with authorization and TLS on; its data dir is ``<tmp>``."""
    server = EmbeddedNats(Path(tmp_path_factory.mktemp("tls")) / "nats", tls=certificates)
    await server.start()
    yield server
    await server.stop()


async def test_a_client_trusting_the_ca_connects_and_talks(tls_server: EmbeddedNats, certificates: BusTls) -> None:
    context = certificates.client_context()
    bus = await Bus.connect(tls_server.url, credentials=tls_server.auth.path("admin"), tls=context, wait_s=5)
    try:
        sub = await bus.nc.subscribe("lw.ops.tls-check")
        await bus.nc.publish("lw.ops.tls-check", b"over tls")
        assert (await sub.next_msg(timeout=5)).data == b"over tls"
        assert bus.nc._transport is not None and bus.nc._transport._io_writer.get_extra_info("ssl_object")
    finally:
        await bus.close()


async def test_a_plaintext_client_is_refused_before_any_login(tls_server: EmbeddedNats) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", tls_server.port)
    try:
        info = json.loads((await asyncio.wait_for(reader.readline(), 10)).split(b" ", 1)[1])
        assert info["tls_required"] is True
        password = tls_server.auth.get("admin").password
        writer.write(b'CONNECT {"user":"admin","pass":"%s","verbose":false}\r\nPING\r\n' % password.encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()
    assert b"PONG" not in answer
    assert b"tls required" in answer.lower() or answer == b"", answer


async def test_a_client_without_the_ca_or_with_another_refuses_the_server(
    tls_server: EmbeddedNats, tmp_path: Path
) -> None:
    other = make_dev_certificates(tmp_path / "other", ca_name="Someone else's CA")
    with pytest.raises(LoreweaveError) as wrong_ca:
        await Bus.connect(tls_server.url, credentials=tls_server.auth.path("admin"), tls=other.client_context(),
                          wait_s=2)
    assert wrong_ca.value.field == "LOREWEAVE_NATS_TLS_CA" and "certificate verify failed" in str(wrong_ca.value)
    # nats-py without a context upgrades with the system's CAs, which never signed this server.
    with pytest.raises(Exception, match="(?i)certificate verify failed"):
        await nats.connect(tls_server.client_url("admin"), allow_reconnect=False, connect_timeout=2)


async def test_a_certificate_for_another_host_is_refused(tmp_path: Path) -> None:
    misnamed = make_dev_certificates(tmp_path / "pki", hosts=("nats.elsewhere.example",))
    server = EmbeddedNats(tmp_path / "nats", tls=misnamed)
    await server.start()
    try:
        with pytest.raises(LoreweaveError) as refused:
            await Bus.connect(server.url, credentials=server.auth.path("admin"), tls=misnamed.client_context(),
                              wait_s=2)
        assert refused.value.field == "LOREWEAVE_NATS_TLS_CA" and "127.0.0.1" in str(refused.value)
    finally:
        await server.stop()


async def test_a_tls_client_never_sends_its_password_to_a_server_without_tls(tmp_path: Path,
                                                                             certificates: BusTls) -> None:
    received = bytearray()

    async def plaintext_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # What a server without TLS (or a man in the middle) says first; then it listens, and hangs up.
        writer.write(b'INFO {"server_id":"x","version":"2.10.0","auth_required":true,"max_payload":1048576}\r\n')
        await writer.drain()
        received.extend(await reader.read(4096))
        writer.close()

    fake = await asyncio.start_server(plaintext_server, "127.0.0.1", 0)
    port = fake.sockets[0].getsockname()[1]
    credential = make_credential(tmp_path)
    try:
        with pytest.raises(LoreweaveError) as refused:
            await Bus.connect(f"nats://127.0.0.1:{port}", credentials=credential, tls=certificates.client_context(),
                              wait_s=2)
    finally:
        fake.close()
    assert refused.value.field in ("LOREWEAVE_NATS_TLS_CA", "LOREWEAVE_NATS_URL")
    assert received, "the client sent nothing: the test proves nothing"
    assert b"CONNECT" not in received and b"s3cret-never-in-clear" not in received


def make_credential(folder: Path) -> Path:
    from loreweave.security import Credential

    return Credential("admin", "admin", "s3cret-never-in-clear").write(folder / "admin.json")


def test_tls_rides_through_credential_changes(tls_server: EmbeddedNats) -> None:
    name = "gs-" + uuid.uuid4().hex[:8]
    tls_server.auth.create(name, "game-server", ["*"])
    try:
        assert '"cert_file"' in tls_server.auth.config_path.read_text()
    finally:
        tls_server.auth.revoke(name)
    assert '"cert_file"' in tls_server.auth.config_path.read_text()


def test_the_setting_names_what_is_wrong(tmp_path: Path, certificates: BusTls) -> None:
    with pytest.raises(ConfigError) as no_key:
        BusTls.from_settings(load_settings({"LOREWEAVE_NATS_TLS_CERT": str(certificates.cert)}))
    assert no_key.value.field == "LOREWEAVE_NATS_TLS_KEY"
    with pytest.raises(ConfigError) as missing:
        BusTls(ca=tmp_path / "nowhere.pem").client_context()
    assert missing.value.field == "LOREWEAVE_NATS_TLS_CA" and "nowhere.pem" in missing.value.reason
    with pytest.raises(ConfigError) as mismatched:
        BusTls(cert=certificates.cert, key=make_dev_certificates(tmp_path / "other").key).server_block()
    assert mismatched.value.field == "LOREWEAVE_NATS_TLS_CERT"
    assert certificates.key is not None and certificates.key.read_text() not in str(mismatched.value)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("LOREWEAVE_")}
    return subprocess.run([sys.executable, "-m", "loreweave", *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **env})


async def test_cli_commands_use_the_ca_setting(tls_server: EmbeddedNats, certificates: BusTls) -> None:
    data_dir = tls_server.data_dir.parent
    settings = load_settings({"LOREWEAVE_DATA_DIR": str(data_dir)})
    record_embedded_url(settings, tls_server.url)  # as `loreweave up` does
    try:
        env = {"LOREWEAVE_DATA_DIR": str(data_dir), "LOREWEAVE_NATS_CONNECT_WAIT_S": "3"}
        admin = await Bus.connect(tls_server.url, credentials=tls_server.auth.path("admin"),
                                  tls=certificates.client_context())
        await admin.ensure_streams()
        seen: list[Any] = []

        async def keep(msg: Any) -> None:
            seen.append(msg.subject)

        world = "w" + uuid.uuid4().hex[:8]
        await admin.nc.subscribe(f"lw.{world}.player.joined", cb=keep)
        await admin.sync()
        event = '{"player_id": "p1", "name": "Ada"}'
        published = await asyncio.to_thread(
            _cli, "publish", f"lw.{world}.player.joined", event, env={**env, "LOREWEAVE_NATS_TLS_CA": str(certificates.ca)})
        assert published.returncode == 0, published.stderr
        await eventually(lambda: seen, message="the CLI's event did not arrive over TLS")
        refused = await asyncio.to_thread(_cli, "publish", f"lw.{world}.player.joined", event, env=env)
        assert refused.returncode != 0 and "certificate verify failed" in refused.stderr, refused.stderr
        assert tls_server.auth.get("game-server").password not in refused.stderr + published.stderr
        await admin.close()
    finally:
        (data_dir / "nats.url").unlink(missing_ok=True)


def test_up_says_clients_need_the_ca(tls_server: EmbeddedNats, certificates: BusTls) -> None:
    from loreweave.cli.connection import credential_lines

    settings = load_settings({"LOREWEAVE_DATA_DIR": str(tls_server.data_dir.parent),
                              "LOREWEAVE_NATS_TLS_CERT": str(certificates.cert),
                              "LOREWEAVE_NATS_TLS_KEY": str(certificates.key),
                              "LOREWEAVE_NATS_TLS_CA": str(certificates.ca)})
    lines = credential_lines(settings)
    assert lines[-1] == f"loreweave: the bus requires TLS; each client needs LOREWEAVE_NATS_TLS_CA={certificates.ca}"
    assert certificates.key is not None and certificates.key.read_text() not in "\n".join(lines)
