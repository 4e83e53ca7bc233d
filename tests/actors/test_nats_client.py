"""The cheaper header parse and build give exactly what nats-py's own give."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, strategies as st
from nats import errors
from nats.aio.client import Client

from loreweave.actors.runtime.nats_client import FastHeadersClient, header_block, parse_header_lines

NAMES = st.sampled_from(["Nats-Msg-Id", "traceparent", " Lw-Error ", "", "bad name", "Ünï", "x:y", "Nats-Expected-Stream"])
VALUES = st.text(max_size=40)


async def nats_block(headers: dict[str, str]) -> bytes:
    """The header block nats-py's own ``_send_publish`` writes (captured, not sent)."""
    sent: list[bytes] = []
    client = Client()

    async def capture(command: bytes, priority: bool = False) -> None:
        sent.append(command)

    client._send_command = capture  # type: ignore[method-assign]
    await client._send_publish("lw.w.a.b", "", b"", 0, headers)
    header_size = int(sent[0].split(b"\r\n", 1)[0].split()[-2])
    return sent[0].split(b"\r\n", 1)[1][:header_size]


@given(st.dictionaries(NAMES, VALUES, max_size=4))
def test_header_block_is_nats_pys(headers: dict[str, str]) -> None:
    try:
        expected = asyncio.run(nats_block(headers))
    except errors.BadHeaderError:
        with pytest.raises(errors.BadHeaderError):
            header_block(headers)
        return
    assert header_block(headers) == expected


RAW_LINES = st.lists(
    st.one_of(
        st.sampled_from([b"Nats-Msg-Id: 01JB8Z3V9X2Q4R5S6T7U8V9W0X", b"traceparent:00-ab-cd-01", b" Key :\tv ",
                         b"no colon", b"", b"bad name: v", b"\xff\xfe: v", b"k: \xff"]),
        st.binary(max_size=20),
    ),
    max_size=5,
)


@given(RAW_LINES)
def test_parse_is_nats_pys(lines: list[bytes]) -> None:
    raw = b"\r\n".join(line.replace(b"\r\n", b"") for line in lines)
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)


@given(RAW_LINES)
def test_process_headers_is_nats_pys(lines: list[bytes]) -> None:
    block = b"NATS/1.0\r\n" + b"".join(line.replace(b"\r", b"") + b"\r\n" for line in lines) + b"\r\n"

    async def both() -> tuple[object, object]:
        return await FastHeadersClient()._process_headers(block), await Client()._process_headers(block)

    fast, reference = asyncio.run(both())
    assert fast == reference


def test_status_lines_take_nats_pys_path() -> None:
    block = b"NATS/1.0 503\r\n\r\n"

    async def both() -> tuple[object, object]:
        return await FastHeadersClient()._process_headers(block), await Client()._process_headers(block)

    fast, reference = asyncio.run(both())
    assert fast == reference == {"Status": "503"}


class Recorder:
    """What a parser hands the client: every operation, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, ...]] = []

    async def _process_msg(self, sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None) -> None:
        self.seen.append(("msg", sid, bytes(subject), bytes(reply), data, headers))

    async def _process_ping(self) -> None:
        self.seen.append(("ping",))

    async def _process_pong(self) -> None:
        self.seen.append(("pong",))

    async def _process_info(self, info: dict[str, object]) -> None:
        self.seen.append(("info", info))

    async def _process_err(self, error: str) -> None:
        self.seen.append(("err", error))


def message(headed: bool, reply: bool, payload: bytes, headers: bytes) -> bytes:
    subject, sid, inbox = b"lw.w1.player.moved", b"7", b" _INBOX.x" if reply else b""
    if not headed:
        return b"MSG " + subject + b" " + sid + inbox + b" %d\r\n" % len(payload) + payload + b"\r\n"
    block = b"NATS/1.0\r\n" + headers + b"\r\n"
    return (b"HMSG " + subject + b" " + sid + inbox + b" %d %d\r\n" % (len(block), len(block) + len(payload))
            + block + payload + b"\r\n")


OPERATIONS = st.one_of(
    st.builds(message, st.booleans(), st.booleans(), st.binary(max_size=30),
              st.sampled_from([b"", b"Nats-Msg-Id: 01JB8Z3V9X2Q4R5S6T7U8V9W0X\r\n", b"a: b\r\nc: d\r\n"])),
    st.sampled_from([b"PING\r\n", b"PONG\r\n", b"+OK\r\n", b"INFO {\"max_payload\": 1024}\r\n",
                     b"-ERR 'Slow Consumer'\r\n", b"MSG  a\t7  3\r\nabc\r\n", b"HMSG a 7 12 12\r\nNATS/1.0\r\n\r\n\r\n"]),
)


@given(st.lists(OPERATIONS, max_size=8), st.lists(st.integers(min_value=1, max_value=40), max_size=10))
def test_message_parser_hands_on_what_nats_pys_does(operations: list[bytes], cuts: list[int]) -> None:
    from nats.protocol.parser import Parser

    from loreweave.actors.runtime.nats_client import MessageParser

    stream = b"".join(operations)
    chunks, at = [], 0
    for cut in cuts:
        chunks.append(stream[at : at + cut])
        at += cut
    chunks.append(stream[at:])

    async def feed(parser_class: type[Parser]) -> list[tuple[object, ...]]:
        recorder = Recorder()
        parser = parser_class(recorder)
        for chunk in chunks:
            await parser.parse(chunk)
        return recorder.seen

    assert asyncio.run(feed(MessageParser)) == asyncio.run(feed(Parser))


def test_messages_are_built_as_nats_py_builds_them() -> None:
    from loreweave.actors.runtime import nats_client

    assert nats_client._MSG_POSITIONAL, "nats-py's Msg changed its fields: the keyword path is taken"
    fast_client, client = FastHeadersClient(), Client()
    fast = fast_client._build_message(7, b"lw.w1.player.moved", b"_INBOX.x", b"data", {"a": "b"})
    reference = client._build_message(7, b"lw.w1.player.moved", b"_INBOX.x", b"data", {"a": "b"})
    assert fast._client is fast_client
    fast._client = client
    assert fast == reference


async def test_direct_intake_takes_what_it_accepts_and_queues_the_rest_behind_it_in_order() -> None:
    from nats.aio.subscription import Subscription

    client = FastHeadersClient()
    errors_seen: list[Exception] = []

    async def on_error(error: Exception) -> None:
        errors_seen.append(error)

    async def callback(msg: object) -> None:  # never started here: queued messages stay queued
        raise AssertionError("not run")

    client._error_cb = on_error
    sub = Subscription(client, 1, "lw.w.a.b", cb=callback, pending_msgs_limit=3)
    client._subs[1] = sub
    taken: list[bytes] = []
    accepting = True

    def intake(msg: object) -> bool:
        if accepting:
            taken.append(msg.data)  # type: ignore[attr-defined]
        return accepting

    client.deliver_directly(sub, intake)
    headers = b"NATS/1.0\r\nNats-Msg-Id: m\r\n\r\n"
    await client._process_msg(1, b"lw.w.a.b", b"", b"one", headers)
    accepting = False
    await client._process_msg(1, b"lw.w.a.b", b"", b"two", None)
    accepting = True  # it would take these, but "two" waits in the queue: they go behind it
    for data in (b"three", b"four", b"five"):
        await client._process_msg(1, b"lw.w.a.b", b"", data, None)
    assert taken == [b"one"]
    queued = [sub._pending_queue.get_nowait() for _ in range(sub._pending_queue.qsize())]
    assert [msg.data for msg in queued] == [b"two", b"three", b"four"]
    assert [type(error) for error in errors_seen] == [errors.SlowConsumerError]  # "five": the queue was full
    assert sub._pending_size == len(b"twothreefour")
    assert (client.stats["in_msgs"], sub._received) == (5, 5)


@given(RAW_LINES)
def test_a_directly_taken_message_reads_its_headers_as_nats_py_does(lines: list[bytes]) -> None:
    from nats.aio.subscription import Subscription

    block = b"NATS/1.0\r\n" + b"".join(line.replace(b"\r", b"") + b"\r\n" for line in lines) + b"\r\n"

    async def both() -> tuple[object, object, object]:
        client, reference = FastHeadersClient(), Client()
        taken: list[object] = []

        async def callback(msg: object) -> None:
            raise AssertionError("not run")

        sub = Subscription(client, 1, "lw.w.a.b", cb=callback)
        client._subs[1] = sub
        client.deliver_directly(sub, lambda msg: taken.append(msg) is None)
        for headers in (block, b"NATS/1.0 503\r\n\r\n", None):
            await client._process_msg(1, b"lw.w.a.b", b"_INBOX.r", b"data", headers)
        expected = [
            reference._build_message(1, b"lw.w.a.b", b"_INBOX.r", b"data", await reference._process_headers(headers))
            for headers in (block, b"NATS/1.0 503\r\n\r\n", None)
        ]
        return taken, expected, client

    taken, expected, client = asyncio.run(both())
    for msg, reference in zip(taken, expected, strict=True):  # type: ignore[call-overload]
        assert (msg.subject, msg.reply, msg.data, msg.headers, msg._sid, msg._client) == (
            reference.subject, reference.reply, reference.data, reference.headers, reference._sid, client
        )


TRACED_LINES = st.lists(
    st.one_of(
        st.sampled_from([
            b"Nats-Msg-Id: 01JB8Z3V9X2Q4R5S6T7U8V9W0X", b"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            b" traceparent :00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", b"Traceparent: 00-ab-cd-01",
            b"x-traceparent: v", b"tracestate: k=v", b"no colon", b"",
        ]),
        st.binary(max_size=20),
    ),
    max_size=5,
)


@given(TRACED_LINES)
def test_a_directly_taken_message_gives_the_trace_context_its_headers_give(lines: list[bytes]) -> None:
    from opentelemetry import trace

    from loreweave.actors.runtime.nats_client import LazyHeadersMsg, trace_headers
    from loreweave.protocol import trace_context

    block = b"\r\n".join(line.replace(b"\r", b"").replace(b"\n", b"") for line in lines) + b"\r\n\r\n"
    msg = LazyHeadersMsg(None, "lw.w.a.b", "", b"data", None, None, False, 1)  # type: ignore[arg-type]
    msg._raw_headers = block
    expected = trace_context(Client._parse_header_lines(block) or None)
    got = trace_context(trace_headers(msg))
    assert trace.get_current_span(got).get_span_context() == trace.get_current_span(expected).get_span_context()
    assert got.keys() == expected.keys()
    if b"traceparent" not in block:  # nothing to find: the block is still unread
        assert msg._raw_headers is block
