"""In-memory OpenTelemetry SDK for the runtime tests, installed once for the session."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from loreweave.testing import eventually  # noqa: F401  (the test modules import it from here)

SPANS = InMemorySpanExporter()
METRICS = InMemoryMetricReader()
_tracer_provider = TracerProvider()
_tracer_provider.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_tracer_provider)
metrics.set_meter_provider(MeterProvider(metric_readers=[METRICS]))


@pytest.fixture
def spans() -> InMemorySpanExporter:
    """Finished spans (cleared before the test)."""
    SPANS.clear()
    return SPANS


def metric_points(name: str) -> list[Any]:
    """Data points recorded so far for the metric ``name``."""
    data = METRICS.get_metrics_data()
    points: list[Any] = []
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    points.extend(metric.data.data_points)
    return points


def counter_value(name: str, **attributes: str) -> float:
    """Sum of a counter's points whose attributes include ``attributes``."""
    return sum(
        point.value
        for point in metric_points(name)
        if all(point.attributes.get(key) == value for key, value in attributes.items())
    )


async def live_dead_letters(bus: Any) -> list[Any]:
    """Start collecting dead letters as a core subscriber of ``lw.dlq.>`` sees them, live; returns the list."""
    received: list[Any] = []

    async def keep(msg: Any) -> None:
        received.append(msg)

    await bus.nc.subscribe("lw.dlq.>", cb=keep)
    await bus.sync()
    return received
