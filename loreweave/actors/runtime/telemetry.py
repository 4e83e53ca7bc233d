"""OpenTelemetry instruments of the runtime, and the SDK set-up the CLI uses."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry import metrics, trace

INSTRUMENTATION = "loreweave"


@dataclass(frozen=True)
class RuntimeInstruments:
    """Counters and histograms every actor node records to."""

    handled: metrics.Counter
    failed: metrics.Counter
    dead_lettered: metrics.Counter
    retried: metrics.Counter
    restarts: metrics.Counter
    dropped: metrics.Counter
    handler_latency_ms: metrics.Histogram

    @classmethod
    def create(cls, meter: metrics.Meter | None = None) -> RuntimeInstruments:
        """Create the instruments on ``meter`` (default: the global meter provider's)."""
        meter = meter or metrics.get_meter(INSTRUMENTATION)
        return cls(
            handled=meter.create_counter(
                "lw.frames.handled", unit="{frame}", description="Frames a handler completed."
            ),
            failed=meter.create_counter(
                "lw.frames.failed", unit="{attempt}", description="Handler attempts that raised."
            ),
            dead_lettered=meter.create_counter(
                "lw.frames.dead_lettered", unit="{frame}", description="Frames sent to lw.dlq.*."
            ),
            retried=meter.create_counter(
                "lw.frames.redelivered", unit="{frame}", description="Duplicate frame ids skipped."
            ),
            restarts=meter.create_counter(
                "lw.actor.restarts", unit="{restart}", description="Supervised tasks restarted."
            ),
            dropped=meter.create_counter(
                "lw.frames.dropped",
                unit="{frame}",
                description="Frames the NATS client dropped for a slow consumer (core subscriptions).",
            ),
            handler_latency_ms=meter.create_histogram(
                "lw.handler.duration", unit="ms", description="Time a handler took per frame."
            ),
        )


def tracer() -> trace.Tracer:
    """The runtime's tracer (from the global tracer provider)."""
    return trace.get_tracer(INSTRUMENTATION)


def configure_telemetry(exporter: str, service_name: str = "loreweave") -> None:
    """Install SDK tracer and meter providers exporting to ``exporter`` (none, console or otlp)."""
    if exporter == "none":
        return
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if exporter == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        span_exporter, metric_exporter = ConsoleSpanExporter(), ConsoleMetricExporter()
    else:  # otlp: needs the opentelemetry-exporter-otlp package
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        span_exporter, metric_exporter = OTLPSpanExporter(), OTLPMetricExporter()
    resource = Resource.create({"service.name": service_name})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(
        MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(metric_exporter)])
    )
