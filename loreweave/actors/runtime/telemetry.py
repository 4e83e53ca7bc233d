"""OpenTelemetry instruments of the runtime, and the SDK set-up the CLI uses."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from opentelemetry import metrics, trace

INSTRUMENTATION = "loreweave"
#: ``lw.handler.duration`` measures one frame in this many per handler, the first included: a
#: record in the SDK's histogram costs ~6 µs (attribute cleaning, hashing, a lock), as much as
#: a third of a frame's whole handling. ``lw.frames.handled`` still counts every frame.
HANDLER_DURATION_EVERY = 16


class Tally:
    """A monotonic count per attribute set, reported through an OpenTelemetry observable counter.

    Adding is a dict increment; the SDK reads the totals only when it collects, which keeps a
    synchronous counter's per-call cost (attribute hashing, locks) off the per-frame path.
    """

    def __init__(self) -> None:
        self._totals: defaultdict[tuple[tuple[str, str], ...], int] = defaultdict(int)

    def add(self, amount: int, attributes: Mapping[str, str]) -> None:
        """Count ``amount`` more for ``attributes`` (same call shape as ``Counter.add``)."""
        self._totals[tuple(attributes.items())] += amount

    def add_key(self, amount: int, key: tuple[tuple[str, str], ...]) -> None:
        """:meth:`add` with the attributes already as a tuple of pairs (hot paths build it once)."""
        self._totals[key] += amount

    def observe(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        """The observable counter's callback: every total so far."""
        return [metrics.Observation(total, dict(key)) for key, total in list(self._totals.items())]


_COUNTERS = {
    "handled": ("lw.frames.handled", "{frame}", "Frames a handler completed."),
    "failed": ("lw.frames.failed", "{attempt}", "Handler attempts that raised."),
    "dead_lettered": ("lw.frames.dead_lettered", "{frame}", "Frames sent to lw.dlq.*."),
    "retried": ("lw.frames.redelivered", "{frame}", "Duplicate frame ids skipped."),
    "restarts": ("lw.actor.restarts", "{restart}", "Supervised tasks restarted."),
    "dropped": (
        "lw.frames.dropped", "{frame}",
        "Frames of core subscriptions lost: dropped by the NATS client for a slow consumer, "
        "or still queued when a stopping node closed its intake.",
    ),
    "disconnects": (
        "lw.bus.disconnects", "{disconnect}",
        "Times a node lost its NATS connection (a server cutting a slow consumer included).",
    ),
    "reconnects": ("lw.bus.reconnects", "{reconnect}", "Times a node got its NATS connection back."),
    "gaps": (
        "lw.consumer.gaps", "{gap}",
        "Times a persistent actor saw frames missing in transit and re-read the stream from its last commit.",
    ),
    "resent": ("lw.outbox.resent", "{frame}", "Outbox frames published again after a crash or a failed publish."),
}


@dataclass(frozen=True)
class RuntimeInstruments:
    """Counters and histograms every actor node records to."""

    handled: Tally
    failed: Tally
    dead_lettered: Tally
    retried: Tally
    restarts: Tally
    dropped: Tally
    disconnects: Tally
    reconnects: Tally
    gaps: Tally
    resent: Tally
    handler_latency_ms: metrics.Histogram

    @classmethod
    def create(cls, meter: metrics.Meter | None = None) -> RuntimeInstruments:
        """The instruments on ``meter`` (default: the global provider's), shared by every node.

        An observable counter registered twice under one name keeps only its first callback,
        so all nodes of a process count into one set of tallies (attributes tell actors apart).
        """
        meter = meter or metrics.get_meter(INSTRUMENTATION)
        shared = _SHARED.get(id(meter))
        if shared is not None and shared[0] is meter:
            return shared[1]
        tallies = {field: Tally() for field in _COUNTERS}
        for field, (name, unit, description) in _COUNTERS.items():
            meter.create_observable_counter(
                name, callbacks=[tallies[field].observe], unit=unit, description=description
            )
        instruments = cls(
            **tallies,
            handler_latency_ms=meter.create_histogram(
                "lw.handler.duration", unit="ms",
                description=f"Time a handler took per frame, measured on one frame in {HANDLER_DURATION_EVERY} per handler.",
            ),
        )
        _SHARED[id(meter)] = (meter, instruments)
        return instruments


_SHARED: dict[int, tuple[metrics.Meter, RuntimeInstruments]] = {}


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
