"""nats-py's client with cheaper message headers: the same parse and build, fewer steps per message.

Every frame carries headers (``Nats-Msg-Id``, often ``traceparent``), so nats-py's per-message
header work was ~10% of the runtime's CPU per frame: each header name re-checked character by
character on every message received, and matched against a regular expression on every message
sent. Here a name is checked once and remembered; the result is the one nats-py's own
``Client._parse_header_lines`` and ``Client._send_publish`` give (``tests/actors/test_nats_client.py``
compares them). Status lines (``NATS/1.0 503``...) still take nats-py's own path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from typing import Any, Callable, Dict, Optional

from nats import errors
from nats.aio import client as nats_client
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.protocol import command as prot_command
from nats.protocol.parser import AWAITING_CONTROL_LINE, MAX_CONTROL_LINE_SIZE, Parser

_HEADERS_START = b"NATS/1.0\r\n"
_START_LEN = len(_HEADERS_START)
_CRLF = b"\r\n"
# As nats-py 2.16 sends them: a name must be an HTTP token; CR and LF in a value become spaces.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NEWLINES = str.maketrans({"\r": " ", "\n": " "})
#: nats-py parses headers with fast_mail_parser when that is installed: then leave it to nats-py.
_MAIL_PARSER = getattr(nats_client, "parse_email", None)
#: At most this many distinct header names are remembered (a peer sending endless new names
#: gets nats-py's own per-message checks beyond it).
_MAX_NAMES = 1024


def _name_received(raw: bytes) -> str | None:
    """A received header name as nats-py keeps it, or None where nats-py skips the line."""
    try:
        key = raw.strip().decode("ascii")
    except UnicodeDecodeError:
        return None
    if any(c.isspace() for c in key):
        return None
    return key


def _name_sent(name: str) -> bytes | None:
    """A header name as nats-py sends it, None for a blank one; raise ``BadHeaderError`` for a bad one."""
    key = name.strip()
    if not key:
        return None
    if not _TOKEN.fullmatch(key):
        raise errors.BadHeaderError(key)
    return key.encode() + b": "


#: Msg's fields in the order nats-py 2.16 declares them: a message is built positionally, a third
#: of a microsecond less than with keywords, only while that order holds.
_MSG_FIELDS = ("_client", "subject", "reply", "data", "headers", "_metadata", "_ackd", "_sid")
_MSG_POSITIONAL = tuple(field.name for field in dataclasses.fields(Msg)) == _MSG_FIELDS

#: Takes a subscription's message as it is read, or refuses it (False) to its queue and callback.
DirectIntake = Callable[[Msg], bool]

_RECEIVED: dict[bytes, str | None] = {}
_SENT: dict[str, bytes | None] = {}


def parse_header_lines(raw: bytes) -> Dict[str, str]:
    """``Name: Value\\r\\n`` lines as nats-py's ``Client._parse_header_lines`` reads them."""
    out: Dict[str, str] = {}
    names = _RECEIVED
    for line in raw.split(_CRLF):
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        try:
            key = names[name]
        except KeyError:
            key = _name_received(name)
            if len(names) < _MAX_NAMES:
                names[name] = key
        if key is not None:
            out[key] = value.strip().decode("utf-8", "replace")
    return out


def header_block(headers: Dict[str, Any]) -> bytes:
    """The header block nats-py's ``publish`` sends for ``headers``.

    Raises:
        nats.errors.BadHeaderError: for a name that is not an HTTP token.
    """
    parts = [_HEADERS_START]
    names = _SENT
    for name, value in headers.items():
        try:
            key = names[name]
        except KeyError:
            key = _name_sent(name)
            if len(names) < _MAX_NAMES:
                names[name] = key
        if key is not None:
            value = value.strip()
            if "\r" in value or "\n" in value:
                value = value.translate(_NEWLINES)
            parts += (key, value.encode(), _CRLF)
    parts.append(_CRLF)
    return b"".join(parts)


class LazyHeadersMsg(Msg):
    """A :class:`~nats.aio.msg.Msg` whose plain header block is read when ``headers`` is first asked for.

    A frame's handler path often never looks at its headers (no tracing, nothing to ack), and
    reading them was ~0.5 µs of every message. ``headers`` then holds what nats-py's own parse
    gives (``None`` for a block with no header).
    """

    _raw_headers: bytes | None = None
    _parsed_headers: Optional[Dict[str, str]] = None

    @property  # type: ignore[override]
    def headers(self) -> Optional[Dict[str, str]]:
        raw = self._raw_headers
        if raw is not None:
            self._parsed_headers = parse_header_lines(raw) or None
            self._raw_headers = None
        return self._parsed_headers

    @headers.setter
    def headers(self, value: Optional[Dict[str, str]]) -> None:
        self._raw_headers = None
        self._parsed_headers = value


_TRACEPARENT = b"traceparent"


def trace_headers(msg: Msg) -> Optional[Dict[str, str]]:
    """``msg.headers`` where they may carry a ``traceparent``, else None (the trace context is empty).

    A message taken straight into a mailbox has its header block unread; most frames carry no
    trace context, and looking for the name in the raw block spares reading it (~1 µs per frame
    with tracing on). A block without those bytes cannot give a ``traceparent`` header.
    """
    if type(msg) is LazyHeadersMsg:
        raw = msg._raw_headers
        if raw is not None and _TRACEPARENT not in raw:
            return None
    return msg.headers


class MessageParser(Parser):
    """nats-py's protocol parser, taking each complete ``MSG`` or ``HMSG`` at the head of the buffer in one step.

    nats-py's own tries a regular expression per operation (``MSG`` first, so every ``HMSG`` is
    matched twice) and goes through a state change per message; here the control line is split
    once. Anything else (``PING``, ``INFO``, ``-ERR``, a message not complete yet, a control line
    it does not read exactly so) is left to nats-py's parser, which also raises its errors.
    """

    async def parse(self, data: bytes = b"") -> None:
        """Feed ``data`` and dispatch every complete operation in the buffer."""
        self.buf.extend(data)
        while self.state == AWAITING_CONTROL_LINE:
            buf = self.buf  # reset() on a reconnection replaces it
            if buf.startswith(b"HMSG "):
                offset = 5
            elif buf.startswith(b"MSG "):
                offset = 4
            else:
                break
            end = buf.find(_CRLF, 0, MAX_CONTROL_LINE_SIZE)
            if end < 0:
                if len(buf) < MAX_CONTROL_LINE_SIZE:
                    return  # the rest of the control line is still on its way
                break
            args = bytes(buf[offset:end]).split()
            count = len(args)
            reply, header_size_text = b"", b"0"
            if offset == 5 and count == 5:
                subject, sid, reply, header_size_text, size_text = args
            elif offset == 5 and count == 4:
                subject, sid, header_size_text, size_text = args
            elif offset == 4 and count == 4:
                subject, sid, reply, size_text = args
            elif offset == 4 and count == 3:
                subject, sid, size_text = args
            else:
                break
            if not (sid.isdigit() and size_text.isdigit() and header_size_text.isdigit()):
                break
            size = int(size_text)
            header_size = int(header_size_text)
            start = end + 2
            if header_size > size:
                break
            if len(buf) < start + size + 2:
                # Still on its way. Not left to nats-py's parser: once it takes a message it
                # reads the whole buffer after it the slow way.
                return
            split = start + header_size
            headers = bytes(buf[start:split]) if header_size else None
            payload = bytes(buf[split : start + size])
            del buf[: start + size + 2]
            await self.nc._process_msg(int(sid), subject, reply, payload, headers)
        await super().parse()


class FastHeadersClient(Client):
    """A nats-py :class:`~nats.aio.client.Client` whose header parse and build, and message parse,
    are cheaper, with the same results."""

    def __init__(self) -> None:
        super().__init__()
        self._ps = MessageParser(self)
        self._direct: dict[int, DirectIntake] = {}

    def deliver_directly(self, sub: Subscription, intake: DirectIntake) -> None:
        """Offer the messages of ``sub`` (a subscription with a callback) to ``intake`` as they are read.

        nats-py puts each message in the subscription's queue, for a task of its own to pass to
        the callback: a queue hop and a task switch per message. ``intake`` runs in the reading
        loop instead and says whether it took the message. One it refuses goes to the queue and
        the callback as nats-py does it (pending limits and slow-consumer errors included), and
        so does every message while that queue holds any. An intake that must keep the order of
        messages also refuses while the callback still holds one.
        """
        self._direct[sub._id] = intake

    async def _process_msg(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: Optional[bytes]
    ) -> None:
        intake = self._direct.get(sid)
        if intake is None:
            return await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
        sub = self._subs.get(sid)
        if sub is None or not sub._pending_queue.empty() or sub._max_msgs or sub._jsi or sub._future:
            if sub is None:
                del self._direct[sid]
            return await super()._process_msg(sid, subject, reply, data, headers)  # type: ignore[arg-type]
        # What nats-py's _process_msg does for a message of a plain subscription with a callback.
        payload_size = len(data)
        self.stats["in_msgs"] += 1
        self.stats["in_bytes"] += payload_size
        sub._received += 1
        if _MSG_POSITIONAL and self.msg_class is Msg and not _MAIL_PARSER and (
            headers is None or headers.startswith(_HEADERS_START)
        ):
            msg = LazyHeadersMsg(self, subject.decode(), reply.decode(), data, None, None, False, sid)
            if headers is not None:
                msg._raw_headers = headers[_START_LEN:]
        else:  # status lines and nats-py's optional mail parser: its own path
            msg = self._build_message(sid, subject, reply, data, await self._process_headers(headers))
        if intake(msg):
            return
        sub._pending_size += payload_size
        if sub._pending_bytes_limit > 0 and sub._pending_size >= sub._pending_bytes_limit:
            sub._pending_size -= payload_size
        else:
            try:
                sub._pending_queue.put_nowait(msg)
                return
            except asyncio.QueueFull:
                sub._pending_size -= payload_size
        await self._error_cb(errors.SlowConsumerError(subject=msg.subject, reply=msg.reply, sid=sid, sub=sub))

    def _build_message(
        self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: Optional[Dict[str, str]]
    ) -> Msg:
        if self.msg_class is not Msg or not _MSG_POSITIONAL:
            return super()._build_message(sid, subject, reply, data, headers)  # type: ignore[no-any-return]
        return Msg(self, subject.decode(), reply.decode(), data, headers, None, False, sid)

    async def _process_headers(self, headers: Any) -> Optional[Dict[str, str]]:
        # Only plain header blocks: status lines (no-responders, heartbeats, flow control)
        # and nats-py's optional fast_mail_parser path stay nats-py's own.
        if not headers or _MAIL_PARSER or not headers.startswith(_HEADERS_START):
            return await super()._process_headers(headers)
        return parse_header_lines(headers[_START_LEN:]) or None

    async def _send_publish(
        self,
        subject: str,
        reply: str,
        payload: bytes,
        payload_size: int,
        headers: Optional[Dict[str, Any]],
    ) -> None:
        if headers is None or subject == "":
            return await super()._send_publish(subject, reply, payload, payload_size, headers)
        command = prot_command.hpub_cmd(subject, reply, header_block(headers), payload)
        self.stats["out_msgs"] += 1
        self.stats["out_bytes"] += payload_size
        await self._send_command(command)
        if self._flush_queue is not None and self._flush_queue.empty():
            await self._flush_pending()
