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
