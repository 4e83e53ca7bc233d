"""Several hosts on one Linux machine: network namespaces on a bridge, and a NATS cluster across them.

Each host is a network namespace with one veth link to a bridge in the root namespace, which
reaches every host (tests and benchmarks run there). Cutting a host sets its link down: its
processes keep running, each alone on its own network, as on a machine whose cable was pulled.
Needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2; :func:`netns_unavailable` says why not.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from loreweave.embedded.nats import nats_server_binary


def netns_unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    probe = f"lwprobe{secrets.token_hex(2)}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Hosts:
    """``count`` hosts as network namespaces on a bridge; :meth:`up` makes them, :meth:`down` removes them."""

    count: int
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    subnet: str = field(default_factory=lambda: f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250)}")

    @property
    def bridge(self) -> str:
        return f"lw{self.tag}br"

    def namespace(self, host: int) -> str:
        """The namespace of host ``host`` (0-based)."""
        return f"lw{self.tag}h{host}"

    def address(self, host: int) -> str:
        """Host ``host``'s IP address."""
        return f"{self.subnet}.{host + 1}"

    def _link(self, host: int) -> str:
        return f"lw{self.tag}v{host}"

    def up(self) -> None:
        """Make the bridge and the hosts."""
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.subnet}.254/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for host in range(self.count):
            ns, link, inside = self.namespace(host), self._link(host), f"lw{self.tag}i{host}"
            _ip("netns", "add", ns)
            _ip("link", "add", link, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{self.address(host)}/24", "dev", inside)
            _ip("-n", ns, "link", "set", inside, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("link", "set", link, "master", self.bridge)
            _ip("link", "set", link, "up")

    def cut(self, host: int) -> None:
        """Take host ``host`` off the network (its processes keep running)."""
        _ip("link", "set", self._link(host), "down")

    def heal(self, host: int) -> None:
        """Put host ``host`` back on the network."""
        _ip("link", "set", self._link(host), "up")

    def command(self, host: int, argv: list[str]) -> list[str]:
        """``argv`` run inside host ``host``."""
        return ["ip", "netns", "exec", self.namespace(host), *argv]

    def down(self) -> None:
        """Remove the hosts and the bridge (whatever of them exists)."""
        for host in range(self.count):
            subprocess.run(["ip", "netns", "del", self.namespace(host)], capture_output=True)
            subprocess.run(["ip", "link", "del", self._link(host)], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


class NatsCluster:
    """One nats-server per host, routed into one cluster with JetStream (no auth: a test network).

    Args:
        hosts: the hosts (made already).
        work_dir: where each server keeps its config, store and log.
    """

    CLIENT_PORT = 4222
    ROUTE_PORT = 6222

    def __init__(self, hosts: Hosts, work_dir: Path) -> None:
        self.hosts = hosts
        self.work_dir = work_dir
        self.processes: list[subprocess.Popen[bytes] | None] = []

    def url(self, host: int) -> str:
        """The client URL of host ``host``'s server."""
        return f"nats://{self.hosts.address(host)}:{self.CLIENT_PORT}"

    def _config(self, host: int) -> Path:
        folder = self.work_dir / f"nats{host}"
        folder.mkdir(parents=True, exist_ok=True)
        address = self.hosts.address(host)
        routes = ", ".join(
            f'"nats://{self.hosts.address(other)}:{self.ROUTE_PORT}"' for other in range(self.hosts.count) if other != host
        )
        path = folder / "nats.conf"
        path.write_text(
            f'server_name: "h{host}"\n'
            f'listen: "{address}:{self.CLIENT_PORT}"\n'
            f'jetstream {{ store_dir: "{folder / "store"}", max_memory_store: 64MB, max_file_store: 2GB }}\n'
            f'cluster {{ name: "lw", listen: "{address}:{self.ROUTE_PORT}", routes: [{routes}] }}\n'
        )
        return path

    def start(self) -> None:
        """Start every server (each in its host)."""
        for host in range(self.hosts.count):
            log = open(self.work_dir / f"nats{host}.log", "ab")  # noqa: SIM115  (the child keeps it)
            argv = self.hosts.command(host, [str(nats_server_binary()), "-c", str(self._config(host))])
            self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))

    async def stop(self) -> None:
        """Stop every server."""
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.terminate()
        for process in self.processes:
            if process is None:
                continue
            for _ in range(100):
                if process.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                process.kill()
        self.processes = []
