"""Where metric snapshots go: CloudWatch custom metrics and NATS frames."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any, Protocol

from loreweave.ops.metrics.snapshot import Snapshot
from loreweave.protocol import Frame, check_publish_subject, encode_frame

#: NATS subjects of the snapshots: ``lw.ops.metrics.gpu`` and ``lw.ops.metrics.queue``.
SUBJECT_PREFIX = "lw.ops.metrics"


class MetricSink(Protocol):
    """Publishes a snapshot somewhere."""

    async def publish(self, snapshot: Snapshot) -> None:
        """Send ``snapshot``."""


class CloudWatchSink:
    """Custom metrics in ``namespace`` with dimensions ``Stack`` and ``Tier``."""

    def __init__(self, client: Any, namespace: str) -> None:
        self.client = client
        self.namespace = namespace

    async def publish(self, snapshot: Snapshot) -> None:
        """One ``PutMetricData`` call with every value the snapshot has."""
        dimensions = [{"Name": "Stack", "Value": snapshot.stack}, {"Name": "Tier", "Value": snapshot.tier}]
        data = [{"MetricName": name, "Value": value, "Unit": unit, "Dimensions": dimensions,
                 "Timestamp": snapshot.time}
                for name, (value, unit) in snapshot.metrics().items()]
        if data:
            await asyncio.to_thread(self.client.put_metric_data, Namespace=self.namespace, MetricData=data)


class NatsSink:
    """Frames on ``lw.ops.metrics.gpu`` (when there are GPUs) and ``lw.ops.metrics.queue``."""

    def __init__(self, connection: Any, max_frame_bytes: int = 1024 * 1024) -> None:
        self.connection = connection
        self.max_frame_bytes = max_frame_bytes

    async def publish(self, snapshot: Snapshot) -> None:
        """Publish the GPU and queue parts of ``snapshot`` as two frames, and flush."""
        source = f"ops-metrics-{snapshot.tier}"
        if snapshot.gpus:
            gpus = {"tier": snapshot.tier, "gpus": [asdict(g) for g in snapshot.gpus]}
            await self._send("gpu", Frame(type="ops.gpu", world=snapshot.stack, payload=gpus, source=source))
        queue = {"tier": snapshot.tier, **asdict(snapshot.serve)} if snapshot.serve else {
            "tier": snapshot.tier, "unavailable": snapshot.serve_error or "no source"}
        await self._send("queue", Frame(type="ops.queue", world=snapshot.stack, payload=queue, source=source))
        await self.connection.flush()

    async def _send(self, kind: str, frame: Frame) -> None:
        subject = check_publish_subject(f"{SUBJECT_PREFIX}.{kind}")
        await self.connection.publish(subject, encode_frame(frame, self.max_frame_bytes))
