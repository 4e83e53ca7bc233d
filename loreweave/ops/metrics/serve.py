"""The serve side of the metrics: ongoing and queued requests, errors and latency of a tier.

Read from the Prometheus endpoint each Ray node exports (``ray start --metrics-export-port``).
Error rate and p95 latency come from the change in counters and histogram buckets
between two reads, so the first read has neither.
"""

from __future__ import annotations

import asyncio
import urllib.request
from dataclasses import dataclass
from typing import Protocol

ONGOING = ("ray_serve_replica_processing_queries",)
QUEUED = ("ray_serve_deployment_queued_queries", "ray_serve_replica_pending_queries")
REQUESTS = "ray_serve_deployment_request_counter"
ERRORS = "ray_serve_deployment_error_counter"
LATENCY = "ray_serve_deployment_processing_latency_ms"


@dataclass(frozen=True)
class ServeSample:
    """A tier's load at one moment (``None``: not known yet)."""

    ongoing_requests: float
    queued_requests: float
    error_rate_pct: float | None = None
    latency_p95_ms: float | None = None


class ServeSource(Protocol):
    """Where the serve metrics come from."""

    async def read(self) -> ServeSample:
        """The current sample."""


@dataclass
class _Totals:
    requests: float
    errors: float
    buckets: dict[float, float]


def _matches(labels: dict[str, str], deployment: str) -> bool:
    return labels.get("deployment", "") == deployment


def parse_prometheus(text: str, deployment: str) -> tuple[float, float, _Totals]:
    """Ongoing, queued and the counters of ``deployment`` in a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    ongoing = queued = requests = errors = 0.0
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not _matches(sample.labels, deployment):
                continue
            if sample.name in ONGOING:
                ongoing += sample.value
            elif sample.name in QUEUED:
                queued += sample.value
            elif sample.name in (REQUESTS, REQUESTS + "_total"):
                requests += sample.value
            elif sample.name in (ERRORS, ERRORS + "_total"):
                errors += sample.value
            elif sample.name == LATENCY + "_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return ongoing, queued, _Totals(requests, errors, buckets)


def _p95(previous: dict[float, float], current: dict[float, float]) -> float | None:
    bounds = sorted(current)
    deltas = [current[b] - previous.get(b, 0.0) for b in bounds]
    if not deltas or deltas[-1] <= 0:
        return None
    wanted = 0.95 * deltas[-1]
    for bound, cumulative in zip(bounds, deltas):
        if cumulative >= wanted:
            return bound if bound != float("inf") else bounds[-2] if len(bounds) > 1 else None
    return None


class PrometheusServeSource:
    """Scrapes a Ray metrics endpoint for one Serve deployment (``tier-gold``)."""

    def __init__(self, url: str, deployment: str, timeout_s: float = 5.0) -> None:
        self.url = url
        self.deployment = deployment
        self.timeout_s = timeout_s
        self._previous: _Totals | None = None

    def _fetch(self) -> str:
        with urllib.request.urlopen(self.url, timeout=self.timeout_s) as response:  # noqa: S310 - local endpoint
            return response.read().decode()

    def sample_from(self, text: str) -> ServeSample:
        """Turn one scrape into a sample, using the previous scrape for rates."""
        ongoing, queued, totals = parse_prometheus(text, self.deployment)
        error_rate = latency = None
        if self._previous is not None:
            requests = totals.requests - self._previous.requests
            if requests > 0:
                error_rate = 100.0 * max(0.0, totals.errors - self._previous.errors) / requests
            latency = _p95(self._previous.buckets, totals.buckets)
        self._previous = totals
        return ServeSample(ongoing, queued, error_rate, latency)

    async def read(self) -> ServeSample:
        """Scrape the endpoint (in a thread) and return the sample."""
        return self.sample_from(await asyncio.to_thread(self._fetch))
