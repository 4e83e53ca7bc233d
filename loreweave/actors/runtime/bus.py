"""The bus: one NATS connection, the JetStream streams, and frame-level publish/request."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import NoRespondersError, SlowConsumerError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from loreweave.protocol import (
    DEFAULT_MAX_FRAME_BYTES,
    DLQ_ERROR,
    DLQ_REASON,
    DLQ_SUBJECT,
    ERROR_CODE,
    MSG_ID,
    Frame,
    LoreweaveError,
    check_publish_subject,
    decode_frame,
    dlq_subject,
    encode_frame,
    frame_headers,
    request_subject,
)
from loreweave.schemas import ErrorReply, Event, registry as default_registry
from loreweave.schemas.registry import EventRegistry

logger = logging.getLogger(__name__)

#: Stream of every world event (``lw.<world>.<domain>.<event>``).
EVENTS_STREAM = "LOREWEAVE"
#: Stream of dead letters (``lw.dlq.<reason>``).
DLQ_STREAM = "LOREWEAVE_DLQ"


class RequestError(LoreweaveError):
    """A request got an error reply, no responder, or no reply before its deadline."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(field or "request", f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StreamLimits:
    """Retention of the event streams."""

    max_age_s: float = 24 * 3600
    max_bytes: int = 1024**3
    duplicate_window_s: float = 120


def frame_for(
    event: Event, world: str, source: str, *, correlation_id: str = "", causation_id: str | None = None
) -> Frame:
    """A new root frame carrying a typed event."""
    return Frame(
        type=event.TYPE,
        world=world,
        payload=event,
        source=source,
        version=event.VERSION,
        correlation_id=correlation_id,
        causation_id=causation_id,
    )


class Bus:
    """A NATS connection speaking Loreweave frames.

    Use :meth:`connect`; ``close`` drains the connection.
    """

    def __init__(
        self,
        nc: Client,
        *,
        registry: EventRegistry = default_registry,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.registry = registry
        self.max_frame_bytes = max_frame_bytes
        self.slow_consumer_drops = 0

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str = "loreweave",
        registry: EventRegistry = default_registry,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
    ) -> Bus:
        """Connect to the NATS server at ``url``.

        Raises:
            LoreweaveError: naming ``LOREWEAVE_NATS_URL`` when the server cannot be reached.
        """
        holder: list[Bus] = []

        async def on_error(error: Exception) -> None:
            if isinstance(error, SlowConsumerError):
                if holder:
                    holder[0].slow_consumer_drops += 1
                return
            logger.warning("nats: %s", error)

        try:
            nc = await nats.connect(
                url, name=name, error_cb=on_error, max_reconnect_attempts=-1, connect_timeout=3,
                allow_reconnect=True, drain_timeout=5,
            )
        except Exception as exc:
            raise LoreweaveError("LOREWEAVE_NATS_URL", f"cannot connect to {url}: {exc}") from None
        bus = cls(nc, registry=registry, max_frame_bytes=max_frame_bytes)
        holder.append(bus)
        return bus

    async def ensure_streams(self, limits: StreamLimits = StreamLimits()) -> None:
        """Create (or update) the event and dead-letter streams."""
        for config in (
            StreamConfig(
                name=EVENTS_STREAM,
                subjects=["lw.*.*.*"],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=limits.max_age_s,
                max_bytes=limits.max_bytes,
                discard=DiscardPolicy.OLD,
                duplicate_window=limits.duplicate_window_s,
            ),
            StreamConfig(
                name=DLQ_STREAM,
                subjects=["lw.dlq.*"],
                storage=StorageType.FILE,
                max_age=7 * 24 * 3600,
                duplicate_window=limits.duplicate_window_s,
            ),
        ):
            try:
                await self.js.add_stream(config)
            except BadRequestError:
                await self.js.update_stream(config)

    async def sync(self, timeout: float = 5.0) -> None:
        """Return once the server has processed everything this connection sent before.

        ``nc.flush()`` is not enough: nats-py writes its PING straight to the socket,
        ahead of commands still buffered (a SUB sent just before can arrive after the
        PONG). A message to our own inbox travels through the same ordered buffer.
        """
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, max_msgs=1)
        await self.nc.publish(inbox, b"")
        await sub.next_msg(timeout=timeout)

    def encode(self, frame: Frame) -> bytes:
        """Encode a frame under this bus's size limit."""
        return encode_frame(frame, self.max_frame_bytes)

    def decode(self, data: bytes, subject: str | None = None) -> Frame:
        """Decode and validate a frame with this bus's registry and size limit.

        Pass the ``subject`` it arrived on: a frame whose world or type is not the event or
        request subject's is refused (``FrameError`` with code ``subject_mismatch``).
        """
        return decode_frame(data, self.max_frame_bytes, self.registry, subject=subject)

    async def publish(self, frame: Frame, *, durable: bool = False, subject: str | None = None) -> None:
        """Publish a frame on its subject, with trace context and ``Nats-Msg-Id`` headers.

        ``durable`` waits for JetStream's acknowledgement that the frame is stored.
        """
        data = self.encode(frame)
        headers = frame_headers(frame)
        target = check_publish_subject(subject) if subject else frame.subject
        if durable:
            await self.js.publish(target, data, headers=headers)
        else:
            await self.nc.publish(target, data, headers=headers)

    async def emit(self, event: Event, world: str, *, source: str, durable: bool = False) -> Frame:
        """Publish a typed event as a new root frame; return the frame."""
        frame = frame_for(event, world, source)
        await self.publish(frame, durable=durable)
        return frame

    async def request(self, frame: Frame, timeout: float = 2.0, *, subject: str | None = None) -> Frame:
        """Send ``frame`` as a request and return the decoded reply frame.

        The subject is ``lw.rpc.<world>.<type>`` unless ``subject`` is given.

        Raises:
            RequestError: with code ``timeout``, ``no_responders`` or the error reply's code.
        """
        subject = check_publish_subject(subject) if subject else request_subject(frame.world, frame.type)
        try:
            msg = await self.nc.request(
                subject, self.encode(frame), timeout=timeout,
                headers=frame_headers(frame),
            )
        except NoRespondersError:
            raise RequestError("no_responders", f"nobody answers on {subject}") from None
        except asyncio.TimeoutError:  # nats-py raises its own subclass or the plain one
            raise RequestError("timeout", f"no reply on {subject} within {timeout}s") from None
        reply = self.decode(msg.data)
        if isinstance(reply.payload, ErrorReply):
            raise RequestError(reply.payload.code, reply.payload.message, reply.payload.field)
        return reply

    async def respond(self, msg: Msg, frame: Frame) -> None:
        """Answer a request message with a frame."""
        if msg.reply:
            headers = frame_headers(frame)
            if isinstance(frame.payload, ErrorReply):
                headers[ERROR_CODE] = frame.payload.code
            await self.nc.publish(msg.reply, self.encode(frame), headers=headers)

    async def dead_letter(self, data: bytes, subject: str, reason: str, error: str) -> None:
        """Keep an undeliverable frame's raw bytes on ``lw.dlq.<reason>`` with the error."""
        # Every actor subscribed to the subject dead-letters the same bad frame; a content-derived
        # id lets the DLQ stream keep one copy.
        digest = hashlib.blake2b(data + b"\0" + subject.encode() + b"\0" + reason.encode(), digest_size=16)
        headers: dict[str, Any] = {
            MSG_ID: f"dlq-{digest.hexdigest()}",
            DLQ_REASON: reason,
            DLQ_ERROR: error[:1024].replace("\r", " ").replace("\n", " "),
            DLQ_SUBJECT: subject,
        }
        try:
            await self.js.publish(dlq_subject(reason), data, headers=headers, timeout=5)
        except Exception:
            logger.exception("dead letter for %s could not be stored; publishing without ack", subject)
            await self.nc.publish(dlq_subject(reason), data, headers=headers)

    async def close(self) -> None:
        """Flush and drain the connection."""
        if not self.nc.is_closed:
            try:
                await self.nc.drain()
            except Exception:
                await self.nc.close()
