"""GPU and serve-queue metrics of a tier task, published to CloudWatch and NATS."""

from loreweave.ops.metrics.gpu import GpuReader, GpuSample, GpuUnavailable, NvmlReader
from loreweave.ops.metrics.publisher import MetricsPublisher
from loreweave.ops.metrics.serve import PrometheusServeSource, ServeSample, ServeSource, parse_prometheus
from loreweave.ops.metrics.sinks import SUBJECT_PREFIX, CloudWatchSink, MetricSink, NatsSink
from loreweave.ops.metrics.snapshot import Snapshot

__all__ = [
    "CloudWatchSink", "GpuReader", "GpuSample", "GpuUnavailable", "MetricSink", "MetricsPublisher",
    "NatsSink", "NvmlReader", "PrometheusServeSource", "SUBJECT_PREFIX", "ServeSample", "ServeSource",
    "Snapshot", "parse_prometheus",
]
