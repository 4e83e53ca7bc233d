"""The bus: one NATS connection, the JetStream streams, and frame-level publish/request."""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError, SlowConsumerError
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RePublish, RetentionPolicy, StorageType, StreamConfig, SubjectTransform
from nats.js.errors import BadRequestError

from loreweave.actors.runtime.dead_letters import DeadLetters
from loreweave.actors.runtime.nats_client import FastHeadersClient
from loreweave.actors.runtime.placement.partitions import DEFAULT_PARTITIONS
from loreweave.protocol import (
    DEFAULT_MAX_FRAME_BYTES,
    DLQ_PREFIX,
    ERROR_CODE,
    Frame,
    LoreweaveError,
    check_publish_subject,
    decode_frame,
    encode_frame,
    frame_headers,
    request_subject,
)
from loreweave.protocol.subjects import DLQ_STORE_PREFIX, partition_republish
from loreweave.schemas import ErrorReply, Event, registry as default_registry
from loreweave.schemas.registry import EventRegistry
from loreweave.security.credentials import login_options, redact_url
from loreweave.security.tls import is_tls_failure, tls_options

if TYPE_CHECKING:
    from loreweave.config import Settings

logger = logging.getLogger(__name__)

#: Stream of every world event (``lw.<world>.<domain>.<event>``).
EVENTS_STREAM = "LOREWEAVE"
#: Stream of dead letters (``lw.dlq.<reason>``).
DLQ_STREAM = "LOREWEAVE_DLQ"


#: The error code of a request that may be sent again as it is (its world is moving between nodes).
RETRYABLE = "unavailable"


class RequestError(LoreweaveError):
    """A request got an error reply, no responder, or no reply before its deadline."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(field or "request", f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StreamLimits:
    """Retention of the event and dead-letter streams."""

    max_age_s: float = 24 * 3600
    max_bytes: int = 1024**3
    duplicate_window_s: float = 120
    #: Dead letters: kept a week, at most ``dlq_max_bytes`` (oldest dropped first), each at most
    #: ``dlq_max_msg_bytes`` (a larger frame is kept truncated, with its size and SHA-256).
    dlq_max_age_s: float = 7 * 24 * 3600
    dlq_max_bytes: int = 256 * 1024**2
    dlq_max_msg_bytes: int = 64 * 1024
    #: Copies of each stream in a NATS cluster (``LOREWEAVE_REPLICAS``; 1 on a single server).
    replicas: int = 1
    #: Partitions the events stream republishes events under (``LOREWEAVE_PARTITIONS``): every
    #: stored event also goes to ``lwp.<partition>.<world>.<domain>.<event>`` for the owning node.
    partitions: int = DEFAULT_PARTITIONS

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamLimits:
        """The limits ``LOREWEAVE_DLQ_MAX_BYTES``, ``LOREWEAVE_DLQ_MAX_MSG_BYTES`` and ``LOREWEAVE_REPLICAS`` set."""
        return cls(
            dlq_max_bytes=settings.dlq_max_bytes, dlq_max_msg_bytes=settings.dlq_max_msg_bytes,
            replicas=settings.replicas, partitions=settings.partitions,
        )


#: Called with the subscription whose frames the NATS client dropped (a slow consumer).
DropListener = Callable[[Subscription | None], None]
#: Called with ``"disconnected"`` or ``"reconnected"``.
ConnectionListener = Callable[[str], None]


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

    Use :meth:`connect`; ``close`` drains the connection. Frames the client drops for a slow
    consumer and lost connections are counted here and reported to listeners
    (:meth:`on_drop`, :meth:`on_connection`), which an actor node turns into metrics.
    """

    def __init__(
        self,
        nc: Client,
        *,
        registry: EventRegistry = default_registry,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        limits: StreamLimits = StreamLimits(),
    ) -> None:
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.registry = registry
        self.max_frame_bytes = max_frame_bytes
        self.limits = limits
        self.slow_consumer_drops = 0
        self.disconnects = 0
        self.reconnects = 0
        self._dead_letters = DeadLetters(
            nc, self.js, window_s=limits.duplicate_window_s, max_msg_bytes=limits.dlq_max_msg_bytes
        )
        self._drop_listeners: list[DropListener] = []
        self._connection_listeners: list[ConnectionListener] = []
        self._warned_sids: set[int] = set()
        self._connected = False
        self._last_error = ""

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str = "loreweave",
        registry: EventRegistry = default_registry,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        limits: StreamLimits = StreamLimits(),
        wait_s: float = 5.0,
        credentials: Path | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> Bus:
        """Connect to the NATS server at ``url``, trying for at most ``wait_s`` seconds.

        ``credentials`` is a credential file (``loreweave auth``); without it the user and
        password in ``url``, if any, are used. ``tls`` is the context that verifies the server
        (default: one trusting ``LOREWEAVE_NATS_TLS_CA``, when set). Once connected, a lost
        connection is retried without end (and counted).

        Raises:
            LoreweaveError: naming ``LOREWEAVE_NATS_URL`` when the server cannot be reached in time,
                ``LOREWEAVE_NATS_CREDS`` when it refuses the login, ``LOREWEAVE_NATS_TLS_CA`` when TLS fails.
        """
        nc = FastHeadersClient()
        bus = cls(nc, registry=registry, max_frame_bytes=max_frame_bytes, limits=limits)
        login = {**login_options(url, credentials), **tls_options(tls)}
        try:
            await asyncio.wait_for(
                nc.connect(
                    url, name=name, **login, error_cb=bus._on_error, disconnected_cb=bus._on_disconnected,
                    reconnected_cb=bus._on_reconnected, max_reconnect_attempts=-1, allow_reconnect=True,
                    connect_timeout=3, reconnect_time_wait=min(2.0, max(wait_s / 3, 0.2)), drain_timeout=5,
                ),
                timeout=max(wait_s, 0.1),
            )
        except Exception as exc:  # a timeout, or what nats-py raised for a bad URL
            try:  # a TLS handshake cut short can leave nats-py's close waiting forever
                await asyncio.wait_for(nc.close(), 2)
            except (asyncio.TimeoutError, OSError):
                pass
            if "authorization violation" in f"{bus._last_error} {exc}".lower():
                raise LoreweaveError(
                    "LOREWEAVE_NATS_CREDS",
                    f"NATS at {redact_url(url)} refused the credentials (none, unknown or revoked): use a credential "
                    "file of `loreweave auth create` or the user and password of your server",
                ) from None
            if is_tls_failure(exc) or is_tls_failure(bus._last_error):
                raise LoreweaveError(
                    "LOREWEAVE_NATS_TLS_CA",
                    f"no TLS with NATS at {redact_url(url)} ({bus._last_error or exc!r}): the server must offer TLS "
                    "with a certificate for this host signed by the CA of LOREWEAVE_NATS_TLS_CA",
                ) from None
            raise LoreweaveError(
                "LOREWEAVE_NATS_URL",
                f"cannot reach NATS at {redact_url(url)} within {wait_s:g}s ({bus._last_error or exc!r}); start the server, "
                "fix the URL, or wait longer (--wait SECONDS or LOREWEAVE_NATS_CONNECT_WAIT_S)",
            ) from None
        bus._connected = True
        if max_frame_bytes >= nc.max_payload:
            logger.warning(
                "max frame size %d is not under the server's max_payload %d: frames between them cannot "
                "reach the actors to be dead-lettered as too_large (lower LOREWEAVE_MAX_FRAME_BYTES)",
                max_frame_bytes, nc.max_payload,
            )
        return bus

    @property
    def last_error(self) -> str:
        """The last error the server or client reported (a permissions violation, a lost connection), or ""."""
        return self._last_error

    def on_drop(self, listener: DropListener) -> None:
        """Call ``listener`` for each frame the client drops because a subscription fell behind."""
        self._drop_listeners.append(listener)

    def on_connection(self, listener: ConnectionListener) -> None:
        """Call ``listener`` when the connection is lost (``disconnected``) and back (``reconnected``)."""
        self._connection_listeners.append(listener)

    async def _on_error(self, error: Exception) -> None:
        # Called by nats-py's reading loop, once per dropped message in a flood: keep it cheap.
        if isinstance(error, SlowConsumerError):
            self.slow_consumer_drops += 1
            sub: Subscription | None = getattr(error, "sub", None)
            for listener in self._drop_listeners:
                listener(sub)
            sid = getattr(error, "sid", 0)
            if sid not in self._warned_sids:
                self._warned_sids.add(sid)
                logger.warning(
                    "nats: dropping frames on %s: its subscription fell behind (client-side slow consumer; "
                    "counted in lw.frames.dropped)", error.subject,
                )
            return
        self._last_error = str(error) or type(error).__name__
        if self._connected:
            logger.warning("nats: %s", self._last_error)
        else:  # retries of the first connection end in one error, not a line per attempt
            logger.debug("nats: %s", self._last_error)

    async def _on_disconnected(self) -> None:
        if self.nc.is_closed or not self._connected:  # our own close, not a loss
            return
        self.disconnects += 1
        logger.warning(
            "nats: connection lost (%s); reconnecting (a server that finds this client too slow cuts it too)",
            self._last_error or "closed by the server",
        )
        for listener in self._connection_listeners:
            listener("disconnected")

    async def _on_reconnected(self) -> None:
        self.reconnects += 1
        self._warned_sids.clear()
        logger.info("nats: reconnected to %s", redact_url(self.nc.connected_url.geturl()) if self.nc.connected_url else "?")
        for listener in self._connection_listeners:
            listener("reconnected")

    async def ensure_streams(self, limits: StreamLimits | None = None) -> None:
        """Create (or update) the event and dead-letter streams (with this bus's limits by default)."""
        limits = limits or self.limits
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
                num_replicas=limits.replicas,
                republish=RePublish(*partition_republish(limits.partitions)),
            ),
            StreamConfig(
                name=DLQ_STREAM,
                # Letters arrive on lw.sys.dlq.store.<reason> and are kept as lw.dlq.<reason>
                # (see DeadLetters); lw.dlq.* stays captured for other publishers.
                subjects=[f"{DLQ_PREFIX}.*", f"{DLQ_STORE_PREFIX}.*"],
                subject_transform=SubjectTransform(
                    src=f"{DLQ_STORE_PREFIX}.*", dest=f"{DLQ_PREFIX}.{{{{wildcard(1)}}}}"
                ),
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_age=limits.dlq_max_age_s,
                max_bytes=limits.dlq_max_bytes,
                max_msg_size=limits.dlq_max_msg_bytes,
                discard=DiscardPolicy.OLD,
                duplicate_window=limits.duplicate_window_s,
                num_replicas=limits.replicas,
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

        The subject is ``lw.rpc.<world>.<type>`` unless ``subject`` is given. An ``unavailable``
        answer (the world is moving between nodes) is retried, with backoff, within ``timeout``.

        Raises:
            RequestError: with code ``timeout``, ``no_responders`` or the error reply's code.
        """
        subject = check_publish_subject(subject) if subject else request_subject(frame.world, frame.type)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        backoff = 0.05
        while True:
            try:
                msg = await self.nc.request(
                    subject, self.encode(frame), timeout=max(0.001, deadline - loop.time()),
                    headers=frame_headers(frame),
                )
            except NoRespondersError:
                raise RequestError("no_responders", f"nobody answers on {subject}") from None
            except asyncio.TimeoutError:  # nats-py raises its own subclass or the plain one
                raise RequestError("timeout", f"no reply on {subject} within {timeout}s") from None
            reply = self.decode(msg.data)
            if not isinstance(reply.payload, ErrorReply):
                return reply
            error = reply.payload
            if error.code == RETRYABLE and loop.time() + backoff < deadline:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 0.5)
                continue
            raise RequestError(error.code, error.message, error.field)

    async def respond(self, msg: Msg, frame: Frame) -> None:
        """Answer a request message with a frame."""
        if msg.reply:
            headers = frame_headers(frame)
            if isinstance(frame.payload, ErrorReply):
                headers[ERROR_CODE] = frame.payload.code
            await self.nc.publish(msg.reply, self.encode(frame), headers=headers)

    async def dead_letter(
        self, data: bytes, subject: str, reason: str, error: str, *, actor: str | None = None
    ) -> bool:
        """Keep an undeliverable frame's raw bytes on ``lw.dlq.<reason>`` with the error.

        Every actor subscribed to the subject refuses the same bad frame: the letter is stored
        once and published live once however many actors and nodes call this (see
        :class:`~loreweave.actors.runtime.dead_letters.DeadLetters`); ``actor`` names the actor of
        a ``handler_failed`` letter, whose failure is its own. Returns whether this call sent it.
        """
        return await self._dead_letters.keep(data, subject, reason, error, actor=actor)

    async def close(self) -> None:
        """Flush and drain the connection."""
        if not self.nc.is_closed:
            try:
                await self.nc.drain()
            except Exception:
                await self.nc.close()
