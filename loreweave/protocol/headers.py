"""NATS headers of a frame: W3C trace context and the JetStream de-duplication id."""

from __future__ import annotations

from typing import Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from loreweave.protocol.frame import Frame

MSG_ID = "Nats-Msg-Id"
TRACEPARENT = "traceparent"
#: Set on a dead letter: the reason code, the error text and the original subject.
DLQ_REASON = "Lw-Dlq-Reason"
DLQ_ERROR = "Lw-Dlq-Error"
DLQ_SUBJECT = "Lw-Dlq-Subject"
#: Set on a dead letter from a failing handler: the actor whose handler failed.
DLQ_ACTOR = "Lw-Dlq-Actor"
#: Set on a dead letter kept truncated: the original frame's size in bytes and its SHA-256 (hex).
DLQ_SIZE = "Lw-Dlq-Size"
DLQ_SHA256 = "Lw-Dlq-Sha256"
#: Set on an error reply to a request.
ERROR_CODE = "Lw-Error"


def frame_headers(frame: Frame, context: otel_context.Context | None = None) -> dict[str, str]:
    """Headers for publishing ``frame``: ``Nats-Msg-Id`` and the current (or given) trace context."""
    headers = {MSG_ID: frame.id}
    if trace.get_current_span(context).get_span_context().is_valid:
        propagate.inject(headers, context=context)
    return headers


def trace_context(headers: Mapping[str, str] | None) -> otel_context.Context:
    """The trace context carried by incoming headers (an empty context if none)."""
    if not headers or TRACEPARENT not in headers:
        return _EMPTY
    return propagate.extract(headers)


_EMPTY = otel_context.Context()
