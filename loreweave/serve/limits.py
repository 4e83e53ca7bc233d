"""Caps per world and per player: requests per minute and tokens per day.

One world cannot starve the rest: each world (and each player in it) draws from
its own buckets. :class:`Quotas` counts in the router replica's memory, so with N
router replicas a cap is enforced per replica; :class:`~loreweave.serve.shared_limits.SharedQuotas`
counts in a NATS key-value bucket that every replica shares (``router.shared_caps``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from loreweave.serve.errors import QuotaExceeded, RateLimited
from loreweave.serve.tiers import WorldSettings

_DAY_S = 86_400.0
_PRUNE_AT = 50_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class QuotaStore(Protocol):
    """Where the router counts its caps: :class:`Quotas` (one replica) or a shared store."""

    async def admit(self, world: str, player: str | None, settings: WorldSettings, tokens: int) -> Reservation:
        """Take one request from the rate buckets and reserve ``tokens`` of the daily quotas."""

    async def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Replace the reserved tokens by the tokens the request really used."""


def refill(tokens: float, stamp: float, per_minute: int, now: float) -> float:
    """A token bucket's level at ``now``: ``per_minute`` tokens a minute, at most ``per_minute``."""
    return min(float(per_minute), tokens + max(0.0, now - stamp) * per_minute / 60.0)


def day_of(now: float) -> int:
    """The day number (UTC) daily quotas count in."""
    return int(now // _DAY_S)


def cap_keys(world: str, player: str | None, settings: WorldSettings) -> tuple[list[Cap], list[Cap]]:
    """The rate caps and the daily token caps that apply to a request (those with a limit)."""
    rates = [Cap("world", f"w:{world}", settings.requests_per_minute)]
    quotas = [Cap("world", f"w:{world}", settings.tokens_per_day)]
    if player:
        rates.append(Cap("player", f"p:{world}:{player}", settings.player_requests_per_minute))
        quotas.append(Cap("player", f"p:{world}:{player}", settings.player_tokens_per_day))
    return [cap for cap in rates if cap.limit is not None], [cap for cap in quotas if cap.limit is not None]


@dataclass(frozen=True)
class Cap:
    """One cap on a request: whose (``world`` or ``player``), its counter's key, and its limit."""

    scope: str
    key: str
    limit: int | None

    def rate_limited(self) -> RateLimited:
        """The error for a request over this rate cap."""
        return RateLimited(f"{self.scope}.requests_per_minute", f"more than {self.limit} requests in a minute")

    def quota_exceeded(self, used: int, tokens: int) -> QuotaExceeded:
        """The error for a request over this daily token cap."""
        return QuotaExceeded(
            f"{self.scope}.tokens_per_day", f"{used} of {self.limit} tokens used today; this request may use {tokens}"
        )


@dataclass
class Reservation:
    """Tokens held for one request until :meth:`Quotas.settle` counts what it really used."""

    keys: list[str]
    day: int
    tokens: int
    settled: bool = field(default=False)


class Quotas:
    """Token buckets for requests per minute and daily token counters, per world and player."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._used: dict[str, tuple[int, int]] = {}

    async def admit(self, world: str, player: str | None, settings: WorldSettings, tokens: int) -> Reservation:
        """Take one request from the rate buckets and reserve ``tokens`` of the daily quotas.

        Raises:
            RateLimited: naming ``world.requests_per_minute`` or ``player.requests_per_minute``.
            QuotaExceeded: naming ``world.tokens_per_day`` or ``player.tokens_per_day``.
        """
        now = self._clock()
        day = day_of(now)
        rates, quotas = cap_keys(world, player, settings)
        for cap in quotas:
            used = self._used_today(cap.key, day)
            if used + tokens > (cap.limit or 0):
                raise cap.quota_exceeded(used, tokens)
        for cap in rates:
            if not self._has_token(cap.key, cap.limit or 0, now):
                raise cap.rate_limited()
        for cap in rates:
            self._buckets[cap.key].tokens -= 1
        keys = [cap.key for cap in quotas]
        for key in keys:
            self._used[key] = (day, self._used_today(key, day) + tokens)
        self._prune(now)
        return Reservation(keys, day, tokens)

    async def settle(self, reservation: Reservation, used_tokens: int) -> None:
        """Replace the reserved tokens by the tokens the request really used."""
        if reservation.settled:
            return
        reservation.settled = True
        for key in reservation.keys:
            day, used = self._used.get(key, (reservation.day, 0))
            if day == reservation.day:
                self._used[key] = (day, max(0, used - reservation.tokens + used_tokens))

    def used_today(self, world: str, player: str | None = None) -> int:
        """Tokens counted today for a world (or one of its players)."""
        key = f"p:{world}:{player}" if player else f"w:{world}"
        return self._used_today(key, day_of(self._clock()))

    def _used_today(self, key: str, day: int) -> int:
        stamp, used = self._used.get(key, (day, 0))
        return used if stamp == day else 0

    def _has_token(self, key: str, per_minute: int, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(per_minute), now)
        bucket.tokens = refill(bucket.tokens, bucket.stamp, per_minute, now)
        bucket.stamp = now
        return bucket.tokens >= 1.0

    def _prune(self, now: float) -> None:
        if len(self._buckets) > _PRUNE_AT:
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.stamp < 60}
        if len(self._used) > _PRUNE_AT:
            day = day_of(now)
            self._used = {k: v for k, v in self._used.items() if v[0] == day}
