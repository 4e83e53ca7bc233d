"""Caps per world and per player: requests per minute and tokens per day.

One world cannot starve the rest: each world (and each player in it) draws from
its own buckets. Counts live in the router replica's memory, so with N router
replicas a cap is enforced per replica.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from loreweave.serve.errors import QuotaExceeded, RateLimited
from loreweave.serve.tiers import WorldSettings

_DAY_S = 86_400.0
_PRUNE_AT = 50_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float


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

    def admit(self, world: str, player: str | None, settings: WorldSettings, tokens: int) -> Reservation:
        """Take one request from the rate buckets and reserve ``tokens`` of the daily quotas.

        Raises:
            RateLimited: naming ``world.requests_per_minute`` or ``player.requests_per_minute``.
            QuotaExceeded: naming ``world.tokens_per_day`` or ``player.tokens_per_day``.
        """
        now = self._clock()
        day = int(now // _DAY_S)
        rates = [("world", f"w:{world}", settings.requests_per_minute)]
        quotas = [("world", f"w:{world}", settings.tokens_per_day)]
        if player:
            rates.append(("player", f"p:{world}:{player}", settings.player_requests_per_minute))
            quotas.append(("player", f"p:{world}:{player}", settings.player_tokens_per_day))
        for scope, key, limit in quotas:
            if limit is not None:
                used = self._used_today(key, day)
                if used + tokens > limit:
                    raise QuotaExceeded(
                        f"{scope}.tokens_per_day",
                        f"{used} of {limit} tokens used today; this request may use {tokens}",
                    )
        for scope, key, limit in rates:
            if limit is not None and not self._has_token(key, limit, now):
                raise RateLimited(f"{scope}.requests_per_minute", f"more than {limit} requests in a minute")
        for scope, key, limit in rates:
            if limit is not None:
                self._buckets[key].tokens -= 1
        keys = [key for _, key, limit in quotas if limit is not None]
        for key in keys:
            self._used[key] = (day, self._used_today(key, day) + tokens)
        self._prune(now)
        return Reservation(keys, day, tokens)

    def settle(self, reservation: Reservation, used_tokens: int) -> None:
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
        return self._used_today(key, int(self._clock() // _DAY_S))

    def _used_today(self, key: str, day: int) -> int:
        stamp, used = self._used.get(key, (day, 0))
        return used if stamp == day else 0

    def _has_token(self, key: str, per_minute: int, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(per_minute), now)
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.stamp) * per_minute / 60.0)
        bucket.stamp = now
        return bucket.tokens >= 1.0

    def _prune(self, now: float) -> None:
        if len(self._buckets) > _PRUNE_AT:
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.stamp < 60}
        if len(self._used) > _PRUNE_AT:
            day = int(now // _DAY_S)
            self._used = {k: v for k, v in self._used.items() if v[0] == day}
