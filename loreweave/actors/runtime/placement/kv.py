"""What the lease and membership tables share: their KV buckets, compare-and-set writes and watchers.

Both buckets hold messages with a per-message TTL (the ``Nats-TTL`` header), so expiry is
decided by the server when a writer stops writing, never by comparing clocks between hosts.
The bucket places a delete marker when a key expires (``subject_delete_marker_ttl``), so a
watcher sees the expiry as it happens instead of discovering it by polling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.kv import KV_DEL, KV_MARKER_REASON, KV_OP, KV_PURGE, KeyValue

from loreweave.protocol.errors import ConfigError

log = logging.getLogger("loreweave.placement")

#: How long the server keeps the marker of an expired key (seconds). Watchers started later
#: than that simply find no key, which means the same: free.
MARKER_TTL = 60.0
# JSStreamWrongLastSequenceErrF / JSStreamWrongLastSequenceConstantErr: the compare-and-set lost.
_WRONG_LAST = (10071, 10164)
# JSStreamNameExistErr: the stream exists with another configuration.
_STREAM_EXISTS = 10058

#: What a write can fail with without telling us anything about the key (retry later).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    nats.errors.Error,
    asyncio.TimeoutError,
    OSError,
)


def is_conflict(error: BaseException) -> bool:
    """Whether a write failed because the key's revision was not the expected one."""
    if isinstance(error, nats.js.errors.KeyWrongLastSequenceError):
        return True
    return isinstance(error, nats.js.errors.APIError) and error.err_code in _WRONG_LAST


def check_ttl(field: str, ttl: float) -> float:
    """Return ``ttl`` if the server can honour it exactly: a whole number of seconds, at least 1.

    nats-server truncates a ``Nats-TTL`` to whole seconds (``1500ms`` lives one second), so a
    fractional TTL would expire earlier than the node believes.

    Raises:
        ConfigError: otherwise.
    """
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl < 1 or ttl != int(ttl):
        raise ConfigError(field, f"must be a whole number of seconds >= 1 (the server truncates), got {ttl!r}")
    return float(ttl)


async def open_bucket(js: JetStreamContext, bucket: str, *, replicas: int, description: str) -> KeyValue:
    """Create the bucket (idempotent) or bind to it; refuse one that cannot expire keys.

    Raises:
        ConfigError: the bucket exists without per-message TTLs or expiry markers.
    """
    config = api.KeyValueConfig(
        bucket=bucket,
        description=description,
        history=1,
        replicas=replicas,
        storage=api.StorageType.FILE,
        limit_marker_ttl=MARKER_TTL,
    )
    try:
        return await js.create_key_value(config)
    except nats.js.errors.APIError as error:
        if error.err_code != _STREAM_EXISTS:
            raise
    # Created by someone with other settings (replicas, description): usable if keys expire.
    kv = await js.key_value(bucket)
    info = (await kv.status()).stream_info.config
    if not info.allow_msg_ttl or not info.subject_delete_marker_ttl:
        raise ConfigError(
            f"placement bucket {bucket}",
            "exists without per-message TTLs or expiry markers; delete it so nodes can create it",
        )
    return kv


@dataclass(frozen=True, slots=True)
class Current:
    """The newest message of a key: its revision, and its value unless it is a tombstone or an expiry marker."""

    revision: int
    value: bytes | None


async def read_current(js: JetStreamContext, kv: KeyValue, key: str) -> Current | None:
    """The newest message of ``key`` straight from the stream (markers included); None when there is none."""
    try:
        msg = await js.get_msg(kv._stream, subject=kv._pre + key)  # noqa: SLF001 (no public accessor)
    except nats.js.errors.NotFoundError:
        return None
    headers = msg.headers or {}
    if headers.get(KV_OP) in (KV_DEL, KV_PURGE) or KV_MARKER_REASON in headers:
        return Current(msg.seq, None)
    return Current(msg.seq, msg.data or b"")


async def cas_put(
    js: JetStreamContext, kv: KeyValue, key: str, value: bytes, *, last: int, ttl: float, timeout: float
) -> int:
    """Write ``value`` if the key's newest revision is ``last`` (0: no message), expiring after ``ttl``; return the revision.

    ``KeyValue.update`` takes no TTL, hence the publish with the same headers it sets.
    """
    headers = {
        api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(last),
        api.Header.MSG_TTL: f"{int(ttl)}s",
    }
    ack = await js.publish(kv._pre + key, value, headers=headers, timeout=timeout)  # noqa: SLF001
    return ack.seq


async def cas_delete(js: JetStreamContext, kv: KeyValue, key: str, *, last: int, timeout: float) -> int:
    """Place a delete marker if the key's newest revision is ``last``; return the marker's revision."""
    headers = {KV_OP: KV_DEL, api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: str(last)}
    ack = await js.publish(kv._pre + key, b"", headers=headers, timeout=timeout)  # noqa: SLF001
    return ack.seq


class BucketWatch:
    """Follows every key of a bucket: ``on_entry(key, revision, value | None)`` for each change.

    ``None`` means the key was deleted, purged or expired. ``ready`` is set once the
    bucket's existing keys have been delivered.
    """

    def __init__(self, kv: KeyValue, on_entry: Callable[[str, int, bytes | None], None]) -> None:
        self._kv = kv
        self._on_entry = on_entry
        self._watcher: KeyValue.KeyWatcher | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def start(self) -> None:
        """Start watching; returns once the current keys have been delivered."""
        self._watcher = await self._kv.watchall()
        self._task = asyncio.create_task(self._run(self._watcher), name=f"lw-watch-{self._kv._name}")  # noqa: SLF001
        await self.ready.wait()

    async def _run(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is None:  # the end of the keys that existed when the watch started
                self.ready.set()
                continue
            deleted = entry.operation in (KV_DEL, KV_PURGE)
            try:
                self._on_entry(entry.key, entry.revision or 0, None if deleted else (entry.value or b""))
            except Exception:  # a view bug must not end the watch
                log.exception("placement watcher of %s failed on key %s", self._kv._name, entry.key)  # noqa: SLF001

    async def stop(self) -> None:
        """Stop watching (safe on a closed connection)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._watcher is not None:
            try:
                await self._watcher.stop()
            except Exception:  # the connection is gone: nothing left to unsubscribe
                pass
