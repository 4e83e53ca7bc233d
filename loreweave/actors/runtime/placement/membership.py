"""Live nodes: a heartbeat per node in a KV bucket, expiring by a server-side TTL.

Each node writes its key (its node id) in ``LW_NODES`` every renewal period with a
per-message TTL; a node that stops writing disappears when the server expires its key, and
one that leaves purges it. A watcher keeps ``members``, the set every node balances against.
Nodes heartbeat in the same loop that renews their leases, so a dead node's membership and
its leases expire together and the survivors' shares grow as its partitions become free.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time
import uuid

from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from loreweave.actors.runtime.placement import kv as kvs
from loreweave.actors.runtime.placement.kv import log
from loreweave.protocol.errors import ConfigError

#: Default membership bucket.
DEFAULT_NODE_BUCKET = "LW_NODES"
_VALID_ID = re.compile(r"^[-_=a-zA-Z0-9]{1,120}$")


def new_node_id() -> str:
    """A node id unique to this process run: ``<host>-<pid>-<random>``.

    A restarted node gets a new id, so nothing it held before a crash is mistaken for its own.
    """
    host = re.sub(r"[^-a-zA-Z0-9]", "-", socket.gethostname())[:40] or "host"
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def check_node_id(node_id: str) -> str:
    """Return ``node_id`` if it can be a KV key token.

    Raises:
        ConfigError: it is empty, too long, or has characters other than letters, digits, ``-_=``.
    """
    if not isinstance(node_id, str) or not _VALID_ID.match(node_id):
        raise ConfigError("placement.node_id", f"must be 1-120 letters, digits or -_=, got {node_id!r}")
    return node_id


class Membership:
    """This node's heartbeat and the set of live nodes, over a NATS KV bucket."""

    def __init__(
        self,
        js: JetStreamContext,
        node_id: str,
        *,
        bucket: str = DEFAULT_NODE_BUCKET,
        ttl: float = 10.0,
        replicas: int = 1,
        request_timeout: float | None = None,
    ) -> None:
        self.js = js
        self.node_id = check_node_id(node_id)
        self.bucket = bucket
        self.ttl = kvs.check_ttl("placement.lease_ttl", ttl)
        self.replicas = replicas
        self.request_timeout = request_timeout or max(0.5, self.ttl / 4)
        #: Live nodes, as the watcher saw them (this node included once its first beat is seen).
        self.members: set[str] = set()
        self.changed = asyncio.Event()
        self._kv: KeyValue | None = None
        self._watch: kvs.BucketWatch | None = None
        self._value = json.dumps({"node": node_id, "host": socket.gethostname(), "pid": os.getpid(),
                                  "started": time.time()}).encode()

    async def start(self) -> None:
        """Create or bind the bucket, announce this node, and start following the bucket."""
        self._kv = await kvs.open_bucket(
            self.js, self.bucket, replicas=self.replicas, description="Loreweave live nodes"
        )
        await self.beat()
        self._watch = kvs.BucketWatch(self._kv, self._seen)
        await self._watch.start()

    def _seen(self, key: str, revision: int, value: bytes | None) -> None:
        if value is None:
            if key in self.members:
                self.members.discard(key)
                self.changed.set()
        elif key not in self.members:
            self.members.add(key)
            self.changed.set()

    async def beat(self) -> bool:
        """Write this node's heartbeat (expires after the TTL); False when the write failed."""
        assert self._kv is not None, "Membership.start() was not awaited"
        try:
            await self.js.publish(
                self._kv._pre + self.node_id, self._value,  # noqa: SLF001
                headers={"Nats-TTL": f"{int(self.ttl)}s"}, timeout=self.request_timeout,
            )
        except kvs.TRANSIENT_ERRORS as error:
            log.warning("placement: heartbeat of %s failed (will retry): %s", self.node_id, error)
            return False
        return True

    async def leave(self) -> None:
        """Remove this node's key at once (a graceful leave), leaving no tombstone behind."""
        if self._kv is None:
            return
        try:
            await self._kv.purge(self.node_id, msg_ttl=kvs.MARKER_TTL)
        except kvs.TRANSIENT_ERRORS as error:
            log.warning("placement: leaving %s was not confirmed (its key will expire): %s", self.bucket, error)

    async def stop(self) -> None:
        """Stop following the bucket."""
        if self._watch is not None:
            await self._watch.stop()
