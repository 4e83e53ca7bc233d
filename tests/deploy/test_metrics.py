"""The GPU metrics publisher: NVML or none, CloudWatch through moto, frames on NATS."""

from __future__ import annotations

import asyncio

import boto3
import nats
import pytest

from loreweave.ops.metrics import (
    SUBJECT_PREFIX,
    CloudWatchSink,
    GpuSample,
    GpuUnavailable,
    MetricsPublisher,
    NatsSink,
    NvmlReader,
    PrometheusServeSource,
    ServeSample,
)
from loreweave.ops.metrics.run import publish_metrics
from loreweave.protocol import decode_frame

SCRAPE = """# TYPE ray_serve_replica_processing_queries gauge
ray_serve_replica_processing_queries{{deployment="tier-gold",replica="a"}} 10.0
ray_serve_replica_processing_queries{{deployment="tier-gold",replica="b"}} 6.0
ray_serve_replica_processing_queries{{deployment="tier-bronze",replica="c"}} 99.0
# TYPE ray_serve_deployment_queued_queries gauge
ray_serve_deployment_queued_queries{{deployment="tier-gold"}} 4.0
# TYPE ray_serve_deployment_request_counter counter
ray_serve_deployment_request_counter_total{{deployment="tier-gold"}} {requests}
# TYPE ray_serve_deployment_error_counter counter
ray_serve_deployment_error_counter_total{{deployment="tier-gold"}} {errors}
# TYPE ray_serve_deployment_processing_latency_ms histogram
ray_serve_deployment_processing_latency_ms_bucket{{deployment="tier-gold",le="100.0"}} {b100}
ray_serve_deployment_processing_latency_ms_bucket{{deployment="tier-gold",le="500.0"}} {b500}
ray_serve_deployment_processing_latency_ms_bucket{{deployment="tier-gold",le="1000.0"}} {b1000}
ray_serve_deployment_processing_latency_ms_bucket{{deployment="tier-gold",le="+Inf"}} {requests}
ray_serve_deployment_processing_latency_ms_count{{deployment="tier-gold"}} {requests}
ray_serve_deployment_processing_latency_ms_sum{{deployment="tier-gold"}} 1.0
"""


class NoGpu:
    def read(self) -> list[GpuSample]:
        raise GpuUnavailable("NVML cannot start: no driver")


class TwoGpus:
    def read(self) -> list[GpuSample]:
        return [GpuSample(0, "NVIDIA L4", 80.0, 12 * 2**30, 24 * 2**30),
                GpuSample(1, "NVIDIA L4", 40.0, 6 * 2**30, 24 * 2**30)]


class FixedServe:
    async def read(self) -> ServeSample:
        return ServeSample(ongoing_requests=12.0, queued_requests=3.0, error_rate_pct=1.5, latency_p95_ms=420.0)


def test_prometheus_scrape_gives_load_then_error_rate_and_p95() -> None:
    source = PrometheusServeSource("http://unused", "tier-gold")
    first = source.sample_from(SCRAPE.format(requests=100, errors=1, b100=50, b500=90, b1000=100))
    assert (first.ongoing_requests, first.queued_requests) == (16.0, 4.0)
    assert first.error_rate_pct is None and first.latency_p95_ms is None
    # 200 more requests, 10 more errors; of the new ones 100 under 100 ms, 180 (90%) under 500 ms.
    second = source.sample_from(SCRAPE.format(requests=300, errors=11, b100=150, b500=270, b1000=300))
    assert second.error_rate_pct == pytest.approx(5.0)
    assert second.latency_p95_ms == 1000.0


def test_nvml_reader_says_why_without_a_gpu() -> None:
    try:
        samples = NvmlReader().read()
    except GpuUnavailable as exc:
        assert str(exc)
    else:  # on a GPU machine: real devices
        assert samples and all(0 <= s.utilization_pct <= 100 and s.memory_total_bytes > 0 for s in samples)


@pytest.mark.usefixtures("fake_aws")
async def test_without_gpu_only_queue_metrics_reach_cloudwatch(caplog: pytest.LogCaptureFixture) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    snapshot = await publish_metrics(stack="lw-test", tier="bronze", once=True, gpus=NoGpu(),
                                     serve=FixedServe(), cloudwatch_client=cloudwatch)
    assert snapshot is not None and snapshot.gpu_error == "NVML cannot start: no driver"
    assert "no GPU" in caplog.text and "queue metrics only" in caplog.text
    names = {m["MetricName"] for m in cloudwatch.list_metrics(
        Namespace="Loreweave", Dimensions=[{"Name": "Tier", "Value": "bronze"}])["Metrics"]}
    assert names == {"OngoingRequests", "ErrorRate", "LatencyP95"}


@pytest.mark.usefixtures("fake_aws")
async def test_gpu_metrics_are_averaged_over_the_tasks_gpus() -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    publisher = MetricsPublisher("lw-test", "gold", TwoGpus(), None, [CloudWatchSink(cloudwatch, "Loreweave")])
    snapshot = await publisher.publish_once()
    assert snapshot.metrics()["GPUUtilization"] == (60.0, "Percent")
    assert snapshot.metrics()["GPUMemoryUtilization"] == (37.5, "Percent")
    dimensions = [{"Name": "Stack", "Value": "lw-test"}, {"Name": "Tier", "Value": "gold"}]
    stats = cloudwatch.get_metric_statistics(
        Namespace="Loreweave", MetricName="GPUUtilization", Dimensions=dimensions,
        StartTime=snapshot.time.replace(minute=0, second=0, microsecond=0),
        EndTime=snapshot.time.replace(microsecond=0).replace(second=59), Period=60, Statistics=["Average"])
    assert [p["Average"] for p in stats["Datapoints"]] == [60.0]


async def test_snapshots_are_frames_on_nats(nats_server_url: str) -> None:
    connection = await nats.connect(nats_server_url)
    received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def handler(message: nats.aio.msg.Msg) -> None:
        await received.put((message.subject, message.data))

    await connection.subscribe(f"{SUBJECT_PREFIX}.>", cb=handler)
    publisher = MetricsPublisher("lw-test", "gold", TwoGpus(), FixedServe(), [NatsSink(connection)])
    await publisher.publish_once()
    frames = {}
    for _ in range(2):
        subject, data = await asyncio.wait_for(received.get(), 5)
        frames[subject] = decode_frame(data)
    gpu, queue = frames[f"{SUBJECT_PREFIX}.gpu"], frames[f"{SUBJECT_PREFIX}.queue"]
    assert gpu.type == "ops.gpu" and gpu.world == "lw-test"
    assert [g["utilization_pct"] for g in gpu.payload["gpus"]] == [80.0, 40.0]
    assert queue.payload == {"tier": "gold", "ongoing_requests": 12.0, "queued_requests": 3.0,
                             "error_rate_pct": 1.5, "latency_p95_ms": 420.0}

    no_gpu = MetricsPublisher("lw-test", "gold", NoGpu(), FixedServe(), [NatsSink(connection)])
    await no_gpu.publish_once()
    subject, _ = await asyncio.wait_for(received.get(), 5)
    assert subject == f"{SUBJECT_PREFIX}.queue"
    assert received.empty()
    await connection.drain()
