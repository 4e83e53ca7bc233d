"""NATS subjects.

- Events: ``lw.<world>.<domain>.<event>``; journaled by JetStream.
- Requests: ``lw.rpc.<world>.<domain>.<name>``; request/reply only, never journaled
  (a journaled subject would get JetStream's publish acknowledgement as its reply).
- Dead letters: ``lw.dlq.<reason>``.
- System subjects: ``lw.sys.*`` (heartbeats, dead-letter storage); five tokens or more, so the
  events stream (``lw.*.*.*``) never journals them; their frames carry world ``_``.

Builders refuse bad tokens (empty, whitespace, wildcards, dots), so a bad
subject is caught where it is made rather than on the wire.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from loreweave.protocol.errors import FrameError, SubjectError

ROOT = "lw"
DLQ_PREFIX = f"{ROOT}.dlq"
RPC_PREFIX = f"{ROOT}.rpc"
#: World ids that name system subjects (``lw.dlq.*``, ``lw.ai.*``...) and cannot be worlds.
RESERVED_WORLDS = frozenset({"dlq", "rpc", "ai", "sys", "ops", "kb"})
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")
_LW = f"{ROOT}."
_RPC = f"{RPC_PREFIX}."


@dataclass(frozen=True, slots=True)
class Subject:
    """A parsed event subject."""

    world: str
    domain: str
    event: str

    @property
    def event_type(self) -> str:
        """The frame's event type, ``<domain>.<event>``."""
        return f"{self.domain}.{self.event}"

    def __str__(self) -> str:
        return f"{ROOT}.{self.world}.{self.domain}.{self.event}"


def check_token(field: str, token: str) -> str:
    """Return ``token`` if it is a valid subject token, else raise :class:`SubjectError`."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise SubjectError(
            field, f"must be a non-empty token of letters, digits, '_' or '-', got {token!r}"
        )
    return token


def check_world(world: str) -> str:
    """Return ``world`` if it can be a world id, else raise :class:`SubjectError`."""
    check_token("world", world)
    if world in RESERVED_WORLDS:
        raise SubjectError("world", f"{world!r} is reserved for system subjects")
    return world


@functools.lru_cache(maxsize=8192)
def event_subject(world: str, event_type: str) -> str:
    """Build the subject for an event type (``npc.said``) in a world: ``lw.w1.npc.said``."""
    domain, _, event = event_type.partition(".")
    check_world(world)
    check_token("event_type.domain", domain)
    check_token("event_type.event", event)
    return f"{ROOT}.{world}.{domain}.{event}"


def parse_subject(subject: str) -> Subject:
    """Parse an event subject; raise :class:`SubjectError` naming the bad part."""
    parts = subject.split(".") if isinstance(subject, str) else []
    if len(parts) != 4 or parts[0] != ROOT:
        raise SubjectError("subject", f"must look like lw.<world>.<domain>.<event>, got {subject!r}")
    _, world, domain, event = parts
    check_world(world)
    check_token("subject.domain", domain)
    check_token("subject.event", event)
    return Subject(world, domain, event)


def check_publish_subject(subject: str) -> str:
    """Return ``subject`` if a frame may be published on it (no wildcards, no empty parts)."""
    if not isinstance(subject, str) or not subject:
        raise SubjectError("subject", "must be a non-empty string")
    for index, token in enumerate(subject.split(".")):
        check_token(f"subject[{index}]", token)
    return subject


def pattern(world: str = "*", domain: str = "*", event: str = "*") -> str:
    """Build a subscription pattern: ``pattern("w1", "narrative", ">")`` is ``lw.w1.narrative.>``."""
    parts = [world, domain, event]
    for index, (field, token) in enumerate(zip(("world", "domain", "event"), parts)):
        if token == ">":
            if index != len(parts) - 1 and any(p != "*" for p in parts[index + 1 :]):
                raise SubjectError(field, "'>' must be the last token")
            return ".".join([ROOT, *parts[:index], ">"])
        if token != "*":
            check_token(field, token)
    return ".".join([ROOT, *parts])


def check_pattern(subject_pattern: str) -> str:
    """Return a subscription pattern if its tokens are valid (``*`` and a final ``>`` allowed)."""
    if not isinstance(subject_pattern, str) or not subject_pattern:
        raise SubjectError("pattern", "must be a non-empty string")
    tokens = subject_pattern.split(".")
    for index, token in enumerate(tokens):
        if token == ">" and index == len(tokens) - 1:
            continue
        if token == "*":
            continue
        check_token(f"pattern[{index}]", token)
    return subject_pattern


def request_subject(world: str, request_type: str) -> str:
    """Build the subject of a request type in a world: ``lw.rpc.w1.world.query``."""
    return f"{ROOT}.rpc.{event_subject(world, request_type)[len(ROOT) + 1:]}"


def is_journaled(subject_pattern: str) -> bool:
    """Whether frames on a subject (or some subject of a pattern) are kept by the events stream."""
    tokens = subject_pattern.split(".")
    if tokens[0] == ">":
        return True
    if tokens[0] not in (ROOT, "*"):
        return False
    system = len(tokens) > 1 and tokens[1] in RESERVED_WORLDS
    if tokens[-1] == ">":
        return not system and len(tokens) <= 4
    return len(tokens) == 4 and not system


def subject_matches(subject_pattern: str, subject: str) -> bool:
    """Whether a concrete subject matches a NATS pattern (``*`` one token, final ``>`` the rest)."""
    pattern_tokens = subject_pattern.split(".")
    tokens = subject.split(".")
    for index, token in enumerate(pattern_tokens):
        if token == ">":
            return len(tokens) > index
        if index >= len(tokens) or (token != "*" and token != tokens[index]):
            return False
    return len(tokens) == len(pattern_tokens)


def check_frame_subject(subject: str, world: str, event_type: str) -> None:
    """Refuse a frame of ``world`` and ``event_type`` that arrived on a subject naming others.

    Permissions and routing see the subject, not the envelope, so the subject is
    authoritative: on an event subject (``lw.<world>.<domain>.<event>``) or a request
    subject (``lw.rpc.<world>.<domain>.<name>``) the frame's world and type must be the
    subject's. Other subjects (``lw.ai.*``, ``lw.sys.*``, reply inboxes) carry frames of
    any world and type and are not checked.

    Raises:
        FrameError: code ``subject_mismatch``, naming ``world`` or ``type``.
    """
    try:
        # Cached and exact: the common case costs one dict lookup and one comparison.
        expected = event_subject(world, event_type)
    except SubjectError as exc:
        raise FrameError(exc.field, exc.reason) from None
    if subject == expected or not subject.startswith(_LW):
        return
    if subject.startswith(_RPC):
        expected = _RPC + expected[len(_LW):]
        if subject == expected:
            return
        subject_world = subject[len(_RPC):].partition(".")[0]
    else:
        subject_world = subject[len(_LW):].partition(".")[0]
        if subject_world in RESERVED_WORLDS:
            return
    field, value = ("world", world) if subject_world != world else ("type", event_type)
    raise FrameError(
        field, f"{value!r} does not match the subject {subject!r} (expected {expected!r})", "subject_mismatch"
    )


def dlq_subject(reason: str) -> str:
    """Build the dead-letter subject for a reason code: ``lw.dlq.malformed``."""
    return f"{DLQ_PREFIX}.{check_token('reason', reason)}"


#: The world of frames that belong to no game world (heartbeats, error replies to bad requests).
SYSTEM_WORLD = "_"
SYS_PREFIX = f"{ROOT}.sys"
#: Every actor instance's heartbeats.
HEARTBEATS = f"{SYS_PREFIX}.heartbeat.actor.*"
DLQ_STORE_PREFIX = f"{SYS_PREFIX}.dlq.store"


def dlq_store_subject(reason: str) -> str:
    """Where a dead letter is sent to be stored: ``lw.sys.dlq.store.<reason>``.

    The dead-letter stream keeps it as ``lw.dlq.<reason>``; no live subscriber of
    ``lw.dlq.>`` sees it (see :class:`loreweave.actors.runtime.dead_letters.DeadLetters`).
    """
    return f"{DLQ_STORE_PREFIX}.{check_token('reason', reason)}"


def heartbeat_subject(actor: str) -> str:
    """Subject of an actor's heartbeats: ``lw.sys.heartbeat.actor.<actor>`` (never journaled)."""
    return f"{SYS_PREFIX}.heartbeat.actor.{check_token('actor', actor)}"


#: Root of the subjects on which the events stream republishes every stored event under its
#: partition, for the actor nodes that own it: ``lwp.<partition>.<world>.<domain>.<event>``.
PARTITION_ROOT = "lwp"
_PARTITIONED = f"{PARTITION_ROOT}."


def partition_republish(partitions: int) -> tuple[str, str]:
    """``(source, destination)`` of the events stream's republish: each event, under its world's
    partition (NATS's ``partition()``: FNV-1a of the world token, modulo ``partitions``)."""
    return (
        pattern(),
        f"{PARTITION_ROOT}.{{{{partition({partitions},1)}}}}.{{{{wildcard(1)}}}}.{{{{wildcard(2)}}}}.{{{{wildcard(3)}}}}",
    )


def partition_pattern(partition: int) -> str:
    """The subscription to one partition's republished events."""
    return f"{PARTITION_ROOT}.{partition}.>"


def unpartitioned(subject: str) -> str:
    """The event subject a republished ``lwp.<partition>.<world>...`` subject stands for."""
    if not subject.startswith(_PARTITIONED):
        raise FrameError("subject", f"not a partitioned event subject: {subject!r}")
    return _LW + subject.split(".", 2)[2]
