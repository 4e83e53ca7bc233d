"""Caps counted in a NATS key-value bucket that every router replica shares.

With ``router.shared_caps`` on, a world's requests per minute and tokens per day are one
budget however many router replicas (or ECS tasks) answer it. Each counter is one key of
the JetStream KV bucket ``LW_AI_CAPS``, changed by compare-and-set on its revision, so
concurrent replicas never lose an update; a request's counters change concurrently, and
when one cap refuses it the others are given back. Keys expire two days after their last change.

Keys: ``rate.w.<world>`` and ``rate.p.<world>.<player digest>`` hold a token bucket
(``tokens stamp``); ``day.<n>.w.<world>`` and ``day.<n>.p.<world>.<player digest>`` hold
the tokens counted on day ``n``.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Callable

from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from loreweave.serve.errors import Overloaded
from loreweave.serve.limits import Cap, Reservation, cap_keys, day_of, refill
from loreweave.serve.tiers import WorldSettings

BUCKET = "LW_AI_CAPS"
#: How long a counter outlives its last change.
TTL_S = 2 * 86_400.0
#: Compare-and-set attempts on one key before the request is refused as overloaded.
MAX_ATTEMPTS = 32


class _Refused(Exception):
    """A cap said no; carries the error to raise once the other caps are given back."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _key_part(cap_key: str) -> str:
    """``w:<world>`` -> ``w.<world>``; a player id (any text) becomes a digest, as KV keys are tokens."""
    scope, _, rest = cap_key.partition(":")
    if scope == "w":
        return f"w.{rest}"
    world, _, player = rest.partition(":")
    return f"p.{world}.{hashlib.blake2b(player.encode(), digest_size=10).hexdigest()}"


class SharedQuotas:
    """A :class:`~loreweave.serve.limits.QuotaStore` in a NATS KV bucket (see the module docstring)."""

    def __init__(self, kv: KeyValue, clock: Callable[[], float] = time.time) -> None:
        self.kv = kv
        self._clock = clock

    @classmethod
    async def open(cls, js: JetStreamContext, bucket: str = BUCKET) -> SharedQuotas:
        """The store on ``bucket``, created (history 1, two-day TTL) when it does not exist yet."""
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            kv = await js.create_key_value(bucket=bucket, history=1, ttl=TTL_S,
                                           description="Loreweave AI caps shared by router replicas")
        return cls(kv)

    async def admit(self, world: str, player: str | None, settings: WorldSettings, tokens: int) -> Reservation:
        """Reserve ``tokens`` of each daily quota, then take one request from each rate bucket.

        Raises:
            QuotaExceeded: naming ``world.tokens_per_day`` or ``player.tokens_per_day``.
            RateLimited: naming ``world.requests_per_minute`` or ``player.requests_per_minute``.
            Overloaded: when a counter is changed by other replicas too often to get a turn.
        """
        now = self._clock()
        day = day_of(now)
        rates, quotas = cap_keys(world, player, settings)
        # Every counter at once (one round of compare-and-set each); the refused give back nothing,
        # the others are undone when any refused.
        steps = [(f"day.{day}.{_key_part(cap.key)}", self._reserve(cap, tokens), _add(-tokens)) for cap in quotas]
        steps += [(f"rate.{_key_part(cap.key)}", self._take(cap, now), _give_back(cap, now)) for cap in rates]
        outcomes = await asyncio.gather(*(self._change(key, change) for key, change, _ in steps),
                                        return_exceptions=True)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            await asyncio.gather(*(self._change(key, undo) for (key, _, undo), outcome in zip(steps, outcomes)
                                   if not isinstance(outcome, BaseException)))
            first = failures[0]  # in cap order: daily quotas, then rates; the world before the player
            raise first.error if isinstance(first, _Refused) else first
        return Reservation([cap.key for cap in quotas], day, tokens)

    async def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Replace the reserved tokens by those the request used, on the day it was admitted."""
        if reservation.settled:
            return
        reservation.settled = True
        delta = used_tokens - reservation.tokens
        if delta:
            await asyncio.gather(*(self._change(f"day.{reservation.day}.{_key_part(cap_key)}", _add(delta))
                                   for cap_key in reservation.keys))

    async def used_today(self, world: str, player: str | None = None) -> int:
        """Tokens counted today for a world (or one of its players)."""
        cap_key = f"p:{world}:{player}" if player else f"w:{world}"
        try:
            entry = await self.kv.get(f"day.{day_of(self._clock())}.{_key_part(cap_key)}")
        except KeyNotFoundError:
            return 0
        return int(entry.value or b"0")

    @staticmethod
    def _reserve(cap: Cap, tokens: int) -> Callable[[bytes | None], bytes]:
        def change(value: bytes | None) -> bytes:
            used = int(value or b"0")
            if used + tokens > (cap.limit or 0):
                raise _Refused(cap.quota_exceeded(used, tokens))
            return str(used + tokens).encode()

        return change

    @staticmethod
    def _take(cap: Cap, now: float) -> Callable[[bytes | None], bytes]:
        def change(value: bytes | None) -> bytes:
            level, stamp = _level(value, cap, now)
            if level < 1.0:
                raise _Refused(cap.rate_limited())
            return _bucket(level - 1.0, stamp)

        return change

    async def _change(self, key: str, change: Callable[[bytes | None], bytes]) -> None:
        """Apply ``change`` to a key's value by compare-and-set, retrying when another replica wrote first."""
        for _ in range(MAX_ATTEMPTS):
            try:
                entry = await self.kv.get(key)
                value, revision = entry.value, entry.revision
            except KeyNotFoundError:
                value, revision = None, None
            new = change(value)
            try:
                if revision is None:
                    await self.kv.create(key, new)
                else:
                    await self.kv.update(key, new, last=revision)
                return
            except KeyWrongLastSequenceError:
                continue
        raise Overloaded("router.shared_caps", f"{key} changed by other replicas {MAX_ATTEMPTS} times in a row")


def _level(value: bytes | None, cap: Cap, now: float) -> tuple[float, float]:
    """A rate bucket's level at ``now`` (full when it has no key yet), and its new stamp.

    Replicas' clocks differ a little: a stamp ahead of ``now`` is kept, and adds nothing.
    """
    limit = cap.limit or 0
    if not value:
        return float(limit), now
    tokens, stamp = (float(part) for part in value.split())
    return refill(tokens, stamp, limit, now), max(stamp, now)


def _bucket(level: float, stamp: float) -> bytes:
    return f"{level:.6f} {stamp:.6f}".encode()


def _add(delta: int) -> Callable[[bytes | None], bytes]:
    return lambda value: str(max(0, int(value or b"0") + delta)).encode()


def _give_back(cap: Cap, now: float) -> Callable[[bytes | None], bytes]:
    def change(value: bytes | None) -> bytes:
        level, stamp = _level(value, cap, now)
        return _bucket(min(float(cap.limit or 0), level + 1.0), stamp)

    return change
