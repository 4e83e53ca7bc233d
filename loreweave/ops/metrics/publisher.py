"""The metrics publisher: read the GPUs and the serve load, send them to every sink, repeat."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Sequence

from loreweave.ops.metrics.gpu import GpuReader, GpuUnavailable
from loreweave.ops.metrics.serve import ServeSource
from loreweave.ops.metrics.sinks import MetricSink
from loreweave.ops.metrics.snapshot import Snapshot

logger = logging.getLogger(__name__)


class MetricsPublisher:
    """Publishes one tier task's metrics every ``interval_s``; without a GPU, queue metrics only."""

    def __init__(self, stack: str, tier: str, gpus: GpuReader, serve: ServeSource | None,
                 sinks: Sequence[MetricSink], interval_s: float = 15.0) -> None:
        self.stack = stack
        self.tier = tier
        self.gpus = gpus
        self.serve = serve
        self.sinks = list(sinks)
        self.interval_s = interval_s
        self._told_no_gpu = False

    async def collect(self) -> Snapshot:
        """Read the GPUs and the serve source; a missing one is noted, not fatal."""
        gpus, gpu_error = [], None
        try:
            gpus = await asyncio.to_thread(self.gpus.read)
        except GpuUnavailable as exc:
            gpu_error = str(exc)
            if not self._told_no_gpu:
                logger.warning("no GPU (%s): publishing queue metrics only", gpu_error)
                self._told_no_gpu = True
        serve, serve_error = None, None
        if self.serve is not None:
            try:
                serve = await self.serve.read()
            except (OSError, ValueError) as exc:
                serve_error = f"{type(exc).__name__}: {exc}"
                logger.warning("serve metrics unavailable: %s", serve_error)
        return Snapshot(self.stack, self.tier, datetime.now(timezone.utc), gpus, gpu_error, serve, serve_error)

    async def publish_once(self) -> Snapshot:
        """Collect one snapshot and send it to every sink; return it."""
        snapshot = await self.collect()
        for sink in self.sinks:
            try:
                await sink.publish(snapshot)
            except Exception:  # one failing sink must not stop the others
                logger.exception("sink %s failed", type(sink).__name__)
        return snapshot

    async def run(self, stop: asyncio.Event) -> None:
        """Publish every ``interval_s`` until ``stop`` is set."""
        while not stop.is_set():
            await self.publish_once()
            try:
                await asyncio.wait_for(stop.wait(), self.interval_s)
            except asyncio.TimeoutError:
                pass
