"""The consumer span of a handled frame, with the sampler's decision taken before the span is built.

With the OpenTelemetry SDK and a ratio sampler, most frames are not sampled, yet the SDK's
``start_span`` still spends ~3 µs on each (its checks, ids, sampling result, span context).
Here the configured sampler decides first, through its public ``should_sample``, with the ids
the tracer's own generator draws:

- sampled (or recorded): the SDK's ``start_span`` builds the span exactly as without this
  module (same trace id, parent, attributes, processors);
- dropped, under an unsampled incoming parent: no span at all; the parent's context stays
  current, so frames the handler emits carry the same unsampled trace onwards;
- dropped otherwise (a new root): a non-recording span with the ids and flags the SDK would give it.

Only samplers whose decision depends on nothing but their inputs take this path (the SDK's
``ParentBased``, ``TraceIdRatioBased``, ``ALWAYS_ON``/``ALWAYS_OFF``, and their subclasses that keep
the SDK's ``should_sample``, such as ``ParentBasedTraceIdRatio``, the one
``OTEL_TRACES_SAMPLER=parentbased_traceidratio`` installs): a sampled root's sampler runs twice on
one trace id and must answer the same. Any other tracer or sampler gets ``start_span``.

A frame with no incoming trace context (an empty parent) is a root; where its sampler's answer
for a root is the SDK's ``TraceIdRatioBased`` one, that answer is taken here from the same test
of the trace id (``trace_id & TRACE_ID_LIMIT < bound``), without the sampler's call chain and
result objects: ~60% of an unsampled root's cost. The SDK's own span metrics (``otel.sdk.span.*``,
off unless given a meter provider) do not see the dropped spans built here.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opentelemetry.util.types import Attributes

#: Starts a frame's span: ``(parent context, attributes)`` -> ``(span to end, context to attach)``.
SpanStart = Callable[[otel_context.Context, Attributes], tuple[trace.Span, otel_context.Context]]

_DETERMINISTIC = {"ParentBased", "TraceIdRatioBased", "AlwaysOnSampler", "AlwaysOffSampler"}


def span_starter(tracer: trace.Tracer, name: str, kind: SpanKind = SpanKind.CONSUMER) -> SpanStart:
    """A function starting spans called ``name`` on ``tracer``, deciding sampling first where that is exact."""

    def sdk_start(parent: otel_context.Context, attributes: Attributes) -> tuple[trace.Span, otel_context.Context]:
        span = tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        return span, trace.set_span_in_context(span, parent)

    try:
        from opentelemetry.sdk.trace import Tracer as SdkTracer
        from opentelemetry.sdk.trace.sampling import Decision, ParentBased, StaticSampler, TraceIdRatioBased
    except ImportError:  # the API alone: whatever provider is installed decides
        return sdk_start
    if not isinstance(tracer, SdkTracer):
        return sdk_start
    sampler = tracer.sampler
    if not _sdk_sampler(sampler, (ParentBased, TraceIdRatioBased, StaticSampler)) or not _deterministic(sampler):
        return sdk_start
    ratio = _root_ratio(sampler, ParentBased, TraceIdRatioBased)
    root_limit, root_bound = (ratio.TRACE_ID_LIMIT, ratio.bound) if ratio is not None else (0, 0)
    ids = _predrawn(tracer)
    draw_trace_id = ids.inner.generate_trace_id
    draw_span_id = ids.inner.generate_span_id
    should_sample = sampler.should_sample
    get_span = trace.get_current_span
    drop = Decision.DROP
    unsampled_root = trace.TraceFlags(
        trace.TraceFlags.RANDOM_TRACE_ID if ids.inner.is_trace_id_random() else trace.TraceFlags.DEFAULT
    )
    # The key a span is kept under in a context, learnt through the API: a root's context is then
    # built in one step (what set_span_in_context gives for an empty parent).
    (span_key,) = trace.set_span_in_context(trace.INVALID_SPAN, otel_context.Context()).keys()
    new_context = otel_context.Context
    span_context = trace.SpanContext
    non_recording = trace.NonRecordingSpan

    def start(parent: otel_context.Context, attributes: Attributes) -> tuple[trace.Span, otel_context.Context]:
        if ratio is not None and not parent:  # a root (no span in an empty context), decided by the ratio
            trace_id = draw_trace_id()
            if trace_id & root_limit < root_bound:
                ids.give(trace_id)
                span = tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
            else:
                span = non_recording(span_context(trace_id, draw_span_id(), False, unsampled_root))
            return span, new_context({span_key: span})
        parent_span = get_span(parent)
        parent_ids = parent_span.get_span_context()
        root = not parent_ids.is_valid
        trace_id = draw_trace_id() if root else parent_ids.trace_id
        result = should_sample(parent, trace_id, name, kind, attributes)
        if result.decision is not drop:  # recorded, sampled or not: the SDK's own span
            if root:
                ids.give(trace_id)
            span = tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
            return span, trace.set_span_in_context(span, parent)
        if root:
            flags = unsampled_root
        elif not parent_ids.trace_flags.sampled:
            return parent_span, parent
        else:  # a sampled parent this sampler drops: its children say unsampled
            flags = trace.TraceFlags(parent_ids.trace_flags & trace.TraceFlags.RANDOM_TRACE_ID)
        span = trace.NonRecordingSpan(trace.SpanContext(trace_id, draw_span_id(), False, flags, result.trace_state))
        return span, trace.set_span_in_context(span, parent)

    return start


def _sdk_sampler(sampler: object, classes: tuple[type, ...]) -> bool:
    """Whether ``sampler`` is one of ``classes``, or a subclass of one that keeps its ``should_sample``."""
    for cls in classes:
        if isinstance(sampler, cls):
            return type(sampler).should_sample is cls.should_sample  # type: ignore[attr-defined]
    return False


def _root_ratio(sampler: object, parent_based: type, ratio_based: type) -> Any:
    """The SDK ``TraceIdRatioBased`` sampler deciding ``sampler``'s roots, None if another sampler does."""
    if _sdk_sampler(sampler, (parent_based,)):
        sampler = getattr(sampler, "_root", None)
    return sampler if _sdk_sampler(sampler, (ratio_based,)) else None


def _deterministic(sampler: object) -> bool:
    """Whether every sampler named in ``sampler``'s description is one of the SDK's deterministic ones."""
    description = sampler.get_description()  # type: ignore[attr-defined]
    names = {token for token in re.split(r"[{}:,]", description) if token[:1].isupper()}
    return bool(names) and names <= _DETERMINISTIC


class PredrawnIds:
    """The tracer's id generator, handing out a trace id drawn (from it) before ``start_span`` asks.

    Installed once on the tracer; on any thread with no id given, it is the generator it wraps.
    """

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self._given: dict[int, int] = {}

    def give(self, trace_id: int) -> None:
        """Make ``trace_id`` this thread's next trace id."""
        self._given[threading.get_ident()] = trace_id

    def generate_span_id(self) -> int:
        """A span id of the wrapped generator."""
        return self.inner.generate_span_id()  # type: ignore[attr-defined,no-any-return]

    def generate_trace_id(self) -> int:
        """The id given to this thread, once, else one of the wrapped generator."""
        if self._given:
            trace_id = self._given.pop(threading.get_ident(), 0)
            if trace_id:
                return trace_id
        return self.inner.generate_trace_id()  # type: ignore[attr-defined,no-any-return]

    def is_trace_id_random(self) -> bool:
        """Whether the wrapped generator's trace ids are random."""
        return bool(self.inner.is_trace_id_random())  # type: ignore[attr-defined]


def _predrawn(tracer: trace.Tracer) -> PredrawnIds:
    ids = tracer.id_generator  # type: ignore[attr-defined]
    if not isinstance(ids, PredrawnIds):
        ids = PredrawnIds(ids)
        tracer.id_generator = ids  # type: ignore[attr-defined]
    return ids
