"""Dead letters: each undeliverable frame stored once and announced live once, however many refuse it."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext

from loreweave.protocol import (
    DLQ_ACTOR,
    DLQ_ERROR,
    DLQ_REASON,
    DLQ_SHA256,
    DLQ_SIZE,
    DLQ_SUBJECT,
    MSG_ID,
    dlq_store_subject,
    dlq_subject,
)

logger = logging.getLogger(__name__)

#: Room left for a dead letter's headers under the stream's largest message.
HEADER_ROOM = 4096


class RecentDigests:
    """Digests seen in the last ``window_s`` seconds (at most ``size``), oldest forgotten first."""

    def __init__(self, window_s: float, size: int = 4096) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._window_s = window_s
        self._size = size

    def first(self, digest: str) -> bool:
        """Remember ``digest``; return whether it was not seen within the window."""
        now = time.monotonic()
        while self._seen and (len(self._seen) >= self._size or next(iter(self._seen.values())) < now - self._window_s):
            self._seen.popitem(last=False)
        if digest in self._seen:
            return False
        self._seen[digest] = now
        return True


class DeadLetters:
    """Keeps frames no handler could take on ``lw.dlq.<reason>``: stored once, announced live once.

    Every actor subscribed to a subject refuses the same bad frame, on every node. Each
    refusal must not become a live copy (a subscriber of ``lw.dlq.>`` saw one per actor), and
    no refusal may be lost. So:

    1. In one process a digest (the frame's bytes, subject and reason; for ``handler_failed``
       the actor too, since each actor's failure is its own) seen within the duplicate window
       is skipped: the actors of a node make one round trip.
    2. The node stores the letter with a JetStream publish on ``lw.sys.dlq.store.<reason>``, a
       subject only the dead-letter stream listens to (it keeps the letter as
       ``lw.dlq.<reason>``), with a ``Nats-Msg-Id`` derived from the digest. Every node does
       this; the stream keeps the first and answers the others "duplicate".
    3. Only the publisher whose acknowledgement is not a duplicate sends the live copy on
       ``lw.dlq.<reason>`` (which the stream, seeing the same id, does not store again).

    Why not claim the digest first (a KV ``create``) and publish after: a process dying
    between the claim and the publish would lose the letter, as every other refuser saw the
    claim and skipped it. Here the stored copy is the claim, and every refuser tries to store
    it, so a crash loses nothing; a crash between the store and the live copy loses only the
    live announcement (the letter is in the stream) and never doubles it. When JetStream
    cannot store at all, the letter goes out live on ``lw.dlq.<reason>`` as a last resort
    (logged; then each node may send one).

    A letter over the stream's largest message keeps its first bytes, with headers naming
    the original's size (``Lw-Dlq-Size``) and SHA-256 (``Lw-Dlq-Sha256``).
    """

    def __init__(self, nc: Client, js: JetStreamContext, *, window_s: float, max_msg_bytes: int) -> None:
        self._nc = nc
        self._js = js
        self._recent = RecentDigests(window_s)
        self._keep_bytes = max(max_msg_bytes - HEADER_ROOM, 1024)

    async def keep(self, data: bytes, subject: str, reason: str, error: str, *, actor: str | None = None) -> bool:
        """Store (and announce) a dead letter unless this process or another stored it already.

        Returns whether this call published the live copy.
        """
        failed_actor = actor if reason == "handler_failed" else None
        digest = hashlib.blake2b(
            b"\0".join((data, subject.encode(), reason.encode(), (failed_actor or "").encode())), digest_size=16
        ).hexdigest()
        if not self._recent.first(digest):
            return False
        headers: dict[str, Any] = {
            MSG_ID: f"dlq-{digest}",
            DLQ_REASON: reason,
            DLQ_ERROR: error[:1024].replace("\r", " ").replace("\n", " "),
            DLQ_SUBJECT: subject[:512],
        }
        if failed_actor:
            headers[DLQ_ACTOR] = failed_actor[:128]
        body = data
        if len(data) > self._keep_bytes:
            body = data[: self._keep_bytes]
            headers[DLQ_SIZE] = str(len(data))
            headers[DLQ_SHA256] = hashlib.sha256(data).hexdigest()
        try:
            ack = await self._js.publish(dlq_store_subject(reason), body, headers=headers, timeout=5)
        except Exception as exc:
            logger.error("dead letter from %s could not be stored (%r); publishing it live only", subject, exc)
            await self._nc.publish(dlq_subject(reason), body, headers=headers)
            return True
        if ack.duplicate:
            return False
        await self._nc.publish(dlq_subject(reason), body, headers=headers)
        return True
