"""A frame's span with sampling decided first: what is recorded and propagated is the SDK's own."""

from __future__ import annotations

import random

import pytest
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    ParentBasedTraceIdRatio,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind

from loreweave.actors.runtime.spans import PredrawnIds, span_starter
from loreweave.protocol import trace_context

NAME = "bench.moved"


class SeededIds(IdGenerator):
    """Random ids from a seed, so two providers draw the same sequence."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)

    def generate_span_id(self) -> int:
        return self._random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self._random.getrandbits(128) or 1

    def is_trace_id_random(self) -> bool:
        return True


def provider(sampler: Sampler, seed: int = 7) -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(sampler=sampler, id_generator=SeededIds(seed))
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    return tracer_provider.get_tracer("loreweave"), exporter


def headers_of(context: otel_context.Context) -> dict[str, str]:
    """What a frame emitted under ``context`` carries."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return carrier


def attributes(number: int) -> dict[str, str]:
    return {"messaging.destination.name": "lw.w.player.moved", "lw.frame_id": f"f{number}"}


def remote_parent(sampled: bool, number: int) -> otel_context.Context:
    flags = "01" if sampled else "00"
    return trace_context({"traceparent": f"00-{number + 1:032x}-{number + 7:016x}-{flags}"})


@pytest.mark.parametrize(
    "sampler",
    [ParentBased(TraceIdRatioBased(0.3)), ParentBasedTraceIdRatio(0.3), TraceIdRatioBased(0.3)],
    ids=["ParentBased(TraceIdRatioBased)", "ParentBasedTraceIdRatio", "TraceIdRatioBased"],
)
def test_roots_and_sampled_parents_come_out_as_the_sdks_own(sampler: Sampler) -> None:
    sdk_tracer, sdk_spans = provider(sampler)
    fast_tracer, fast_spans = provider(sampler)
    start = span_starter(fast_tracer, NAME)
    assert isinstance(fast_tracer.id_generator, PredrawnIds)  # type: ignore[attr-defined]  # decided first
    sampled_roots = 0
    for number in range(400):
        parent = remote_parent(True, number) if number % 4 == 0 else otel_context.Context()
        expected = sdk_tracer.start_span(NAME, context=parent, kind=SpanKind.CONSUMER, attributes=attributes(number))
        span, current = start(parent, attributes(number))
        assert trace.get_current_span(current) is span
        assert span.get_span_context() == expected.get_span_context()
        assert headers_of(current) == headers_of(trace.set_span_in_context(expected, parent))
        sampled_roots += number % 4 != 0 and span.is_recording()
        expected.end()
        span.end()
    assert 60 < sampled_roots < 140  # 30% of 300 roots: the ratio still holds
    expected_spans, fast = sdk_spans.get_finished_spans(), fast_spans.get_finished_spans()
    assert len(fast) == len(expected_spans) == sampled_roots + 100
    for mine, theirs in zip(fast, expected_spans):
        assert (mine.name, mine.kind, mine.context, mine.parent, dict(mine.attributes or {})) == (
            theirs.name, theirs.kind, theirs.context, theirs.parent, dict(theirs.attributes or {})
        )


def test_an_unsampled_parent_stays_the_current_context_without_a_span() -> None:
    tracer, spans = provider(ParentBased(TraceIdRatioBased(1.0)))
    start = span_starter(tracer, NAME)
    parent = remote_parent(False, 41)
    span, current = start(parent, attributes(1))
    span.end()
    assert not span.is_recording()
    assert current is parent
    assert headers_of(current)["traceparent"] == f"00-{42:032x}-{48:016x}-00"
    assert spans.get_finished_spans() == ()


def test_a_sampled_parent_the_sampler_drops_is_unsampled_downstream() -> None:
    sampler = ParentBased(TraceIdRatioBased(1.0), remote_parent_sampled=ALWAYS_OFF)
    sdk_tracer, _ = provider(sampler)
    fast_tracer, spans = provider(sampler)
    parent = remote_parent(True, 5)
    expected = sdk_tracer.start_span(NAME, context=parent, kind=SpanKind.CONSUMER, attributes=attributes(1))
    span, current = span_starter(fast_tracer, NAME)(parent, attributes(1))
    assert span.get_span_context() == expected.get_span_context()
    assert headers_of(current)["traceparent"].endswith("-00")
    assert spans.get_finished_spans() == ()


class CoinSampler(Sampler):
    """A sampler whose answer is not a function of its inputs: it must be asked once per span."""

    def __init__(self) -> None:
        self.calls = 0
        self._random = random.Random(3)

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):  # type: ignore[no-untyped-def,override]
        self.calls += 1
        decision = Decision.RECORD_AND_SAMPLE if self._random.random() < 0.5 else Decision.DROP
        return SamplingResult(decision, attributes if decision is not Decision.DROP else None)

    def get_description(self) -> str:
        return "CoinSampler"


def test_a_sampler_of_its_own_is_asked_once_per_span_by_the_sdk() -> None:
    sampler = CoinSampler()
    tracer, spans = provider(ParentBased(sampler))
    start = span_starter(tracer, NAME)
    for number in range(50):
        span, _ = start(otel_context.Context(), attributes(number))
        span.end()
    assert sampler.calls == 50
    assert 0 < len(spans.get_finished_spans()) < 50


def test_the_sampler_the_environment_configures_is_decided_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """README's ``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` gives the SDK's subclass: same path."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.05")
    tracer = TracerProvider(id_generator=SeededIds(1)).get_tracer("loreweave")
    assert type(tracer.sampler) is ParentBasedTraceIdRatio  # type: ignore[attr-defined]
    start = span_starter(tracer, NAME)
    assert isinstance(tracer.id_generator, PredrawnIds)  # type: ignore[attr-defined]
    spans = [start(otel_context.Context(), attributes(number))[0] for number in range(2000)]
    assert 50 < sum(span.is_recording() for span in spans) < 150  # 5% of the roots
