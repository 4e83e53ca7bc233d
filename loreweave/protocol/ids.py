"""Frame ids: 26-character ULIDs (48-bit millisecond time + 80 random bits).

They sort by creation time as plain strings, so a frame id doubles as a cheap
time index. :func:`derived_frame_id` gives the id of the ``index``-th frame an
actor emits while handling a frame: the same inputs always give the same id,
which lets JetStream's ``Nats-Msg-Id`` de-duplication drop the second copy of
an effect that is re-emitted after a redelivery.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_DECODE = {char: value for value, char in enumerate(_ALPHABET)}
FRAME_ID_LENGTH = 26
_RANDOM_MASK = (1 << 80) - 1
_FRAME_ID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")
# Every 10-bit value as two digits: 80 random bits encode in eight look-ups.
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]


def _encode(value: int) -> str:
    chars = []
    for _ in range(FRAME_ID_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _encode_random(value: int) -> str:
    pairs = _PAIRS
    return (
        pairs[value >> 70 & 1023] + pairs[value >> 60 & 1023] + pairs[value >> 50 & 1023]
        + pairs[value >> 40 & 1023] + pairs[value >> 30 & 1023] + pairs[value >> 20 & 1023]
        + pairs[value >> 10 & 1023] + pairs[value & 1023]
    )


class _MonotonicUlid:
    """ULIDs that stay strictly increasing within one process, even within a millisecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0
        self._prefix = ""

    def new(self) -> str:
        millis = time.time_ns() // 1_000_000
        with self._lock:
            if millis <= self._last_ms:
                self._last_random = (self._last_random + 1) & _RANDOM_MASK
            else:
                self._last_ms = millis
                self._prefix = _encode(millis)[-10:]
                # Top bit clear leaves room to increment within the millisecond.
                self._last_random = int.from_bytes(os.urandom(10), "big") >> 1
            random_part, prefix = self._last_random, self._prefix
        return prefix + _encode_random(random_part)


_generator = _MonotonicUlid()


def new_frame_id() -> str:
    """Return a new, unique, time-sortable frame id."""
    return _generator.new()


def frame_id_millis(frame_id: str) -> int:
    """Return the millisecond Unix time encoded in a frame id.

    Raises:
        ValueError: if ``frame_id`` is not a valid ULID.
    """
    if not is_frame_id(frame_id):
        raise ValueError(f"not a frame id: {frame_id!r}")
    value = 0
    for char in frame_id[:10]:
        value = (value << 5) | _DECODE[char]
    return value


def is_frame_id(value: object) -> bool:
    """Return whether ``value`` is a well-formed 26-character ULID string."""
    return isinstance(value, str) and _FRAME_ID.fullmatch(value) is not None


def derived_frame_id(parent_id: str, index: int, scope: str = "") -> str:
    """Return the deterministic id of the ``index``-th frame that ``scope`` emitted while handling ``parent_id``.

    ``scope`` names who emits (the runtime passes ``<actor>.<handler>``), so two handlers or
    two actors reacting to the same frame never share an id, while a re-run of one handler
    after a redelivery gets the same ids back and JetStream de-duplicates the copies.
    The id keeps the parent's time prefix, so it still sorts by time.
    """
    digest = hashlib.blake2b(f"{parent_id}/{scope}/{index}".encode(), digest_size=10).digest()
    return parent_id[:10] + _encode_random(int.from_bytes(digest, "big"))
