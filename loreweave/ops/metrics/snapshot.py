"""A metrics snapshot: the GPUs and the serve load of one tier task at one moment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from loreweave.ops.metrics.gpu import GpuSample
from loreweave.ops.metrics.serve import ServeSample

#: Names of the custom metrics (the alarms and scaling policies in ``ops.aws.desired`` use them).
GPU_UTILIZATION = "GPUUtilization"
GPU_MEMORY = "GPUMemoryUtilization"
ONGOING_REQUESTS = "OngoingRequests"
ERROR_RATE = "ErrorRate"
LATENCY_P95 = "LatencyP95"


@dataclass(frozen=True)
class Snapshot:
    """What one publish sends."""

    stack: str
    tier: str
    time: datetime
    gpus: list[GpuSample] = field(default_factory=list)
    gpu_error: str | None = None
    serve: ServeSample | None = None
    serve_error: str | None = None

    def metrics(self) -> dict[str, tuple[float, str]]:
        """Metric name to (value, CloudWatch unit), only for values that are known."""
        values: dict[str, tuple[float, str]] = {}
        if self.gpus:
            values[GPU_UTILIZATION] = (sum(g.utilization_pct for g in self.gpus) / len(self.gpus), "Percent")
            values[GPU_MEMORY] = (sum(g.memory_pct for g in self.gpus) / len(self.gpus), "Percent")
        if self.serve is not None:
            values[ONGOING_REQUESTS] = (self.serve.ongoing_requests + self.serve.queued_requests, "Count")
            if self.serve.error_rate_pct is not None:
                values[ERROR_RATE] = (self.serve.error_rate_pct, "Percent")
            if self.serve.latency_p95_ms is not None:
                values[LATENCY_P95] = (self.serve.latency_p95_ms, "Milliseconds")
        return values
