"""Build and run the publisher from command-line settings (``loreweave ops metrics``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

from loreweave.ops.metrics.gpu import GpuReader, NvmlReader
from loreweave.ops.metrics.publisher import MetricsPublisher
from loreweave.ops.metrics.serve import PrometheusServeSource, ServeSource
from loreweave.ops.metrics.sinks import CloudWatchSink, MetricSink, NatsSink
from loreweave.ops.metrics.snapshot import Snapshot


async def publish_metrics(
    *, stack: str, tier: str, namespace: str = "Loreweave", region: str | None = None,
    nats_url: str | None = None, cloudwatch: bool = True, prometheus_url: str | None = None,
    interval_s: float = 15.0, once: bool = False, gpus: GpuReader | None = None,
    serve: ServeSource | None = None, cloudwatch_client: Any = None,
) -> Snapshot | None:
    """Publish a tier task's metrics to CloudWatch and/or NATS; once, or until SIGTERM/SIGINT.

    Returns the snapshot when ``once``.
    """
    sinks: list[MetricSink] = []
    if cloudwatch:
        if cloudwatch_client is None:
            import boto3

            cloudwatch_client = boto3.client("cloudwatch", region_name=region)
        sinks.append(CloudWatchSink(cloudwatch_client, namespace))
    connection = None
    if nats_url:
        import nats

        from loreweave.security.tls import tls_options

        connection = await nats.connect(nats_url, name=f"ops-metrics-{tier}", **tls_options())
        sinks.append(NatsSink(connection))
    if serve is None and prometheus_url:
        serve = PrometheusServeSource(prometheus_url, f"tier-{tier}")
    publisher = MetricsPublisher(stack, tier, gpus or NvmlReader(), serve, sinks, interval_s)
    try:
        if once:
            return await publisher.publish_once()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await publisher.run(stop)
        return None
    finally:
        if connection is not None:
            await connection.drain()
