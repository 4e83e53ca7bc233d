"""The wire protocol: frames, subjects, the MessagePack codec, headers and errors.

Pure Python with no NATS imports, so it is fast to test and reusable by any client.
"""

from loreweave.protocol.codec import (
    DEFAULT_MAX_FRAME_BYTES,
    MAX_PAYLOAD_DEPTH,
    MAX_TS_US,
    PayloadSchema,
    decode_frame,
    encode_frame,
    peek_ids,
)
from loreweave.protocol.errors import (
    ConfigError,
    FrameError,
    LoreweaveError,
    SchemaError,
    SubjectError,
)
from loreweave.protocol.frame import FRAME_FIELDS, Frame, now_us
from loreweave.protocol.headers import (
    DLQ_ACTOR,
    DLQ_ERROR,
    DLQ_REASON,
    DLQ_SHA256,
    DLQ_SIZE,
    DLQ_SUBJECT,
    ERROR_CODE,
    MSG_ID,
    TRACEPARENT,
    frame_headers,
    trace_context,
)
from loreweave.protocol.ids import derived_frame_id, frame_id_millis, is_frame_id, new_frame_id
from loreweave.protocol.subjects import (
    DLQ_PREFIX,
    HEARTBEATS,
    PARTITION_ROOT,
    RESERVED_WORLDS,
    ROOT,
    RPC_PREFIX,
    SYS_PREFIX,
    SYSTEM_WORLD,
    Subject,
    check_frame_subject,
    check_pattern,
    check_publish_subject,
    check_token,
    check_world,
    dlq_store_subject,
    dlq_subject,
    event_subject,
    heartbeat_subject,
    is_journaled,
    partition_pattern,
    partition_republish,
    request_subject,
    subject_matches,
    parse_subject,
    pattern,
    unpartitioned,
)

__all__ = [
    "ConfigError", "DEFAULT_MAX_FRAME_BYTES", "DLQ_ERROR", "DLQ_PREFIX", "DLQ_REASON",
    "DLQ_SUBJECT", "ERROR_CODE", "FRAME_FIELDS", "Frame", "FrameError", "LoreweaveError",
    "MAX_PAYLOAD_DEPTH", "MAX_TS_US", "MSG_ID", "PayloadSchema", "RESERVED_WORLDS", "ROOT", "RPC_PREFIX", "SchemaError", "Subject",
    "SubjectError", "TRACEPARENT", "check_frame_subject", "check_pattern", "check_publish_subject", "check_token",
    "check_world", "decode_frame", "derived_frame_id", "dlq_subject", "encode_frame",
    "event_subject", "frame_headers", "is_journaled", "request_subject", "subject_matches", "frame_id_millis", "is_frame_id", "new_frame_id",
    "now_us", "parse_subject", "pattern", "trace_context", "PARTITION_ROOT", "partition_pattern", "partition_republish",
    "unpartitioned",
    "DLQ_ACTOR", "DLQ_SHA256", "DLQ_SIZE", "HEARTBEATS", "SYSTEM_WORLD", "SYS_PREFIX", "dlq_store_subject",
    "heartbeat_subject", "peek_ids",
]
