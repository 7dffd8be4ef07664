"""OpenTelemetry spans for planning, compiling, activations and steps (`agentflow[otel]`).

Free when OpenTelemetry is not installed: every function here is then a no-op. With the API
installed but no SDK configured, spans are non-recording and nothing is stored with runs.

One trace per run: the first activation of a run opens the run's root span and its context is
stored with the run (`trace_context`, a W3C `traceparent` carrier); every later activation, in
any worker process, continues that trace, and each step is recorded as a span with its real
start and end times, so a run that slept a day and woke on another machine reads as one trace.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any

try:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # the `otel` extra is not installed
    trace = None  # type: ignore[assignment]
    TraceContextTextMapPropagator = None  # type: ignore[assignment,misc]

TRACER_NAME = "agentflow"
_provider: Any = None


def use_tracer_provider(provider: Any) -> None:
    """Send agentflow's spans to this `TracerProvider` (None: OpenTelemetry's global one)."""
    global _provider
    _provider = provider


def _tracer() -> Any:
    assert trace is not None
    provider = _provider if _provider is not None else trace.get_tracer_provider()
    return provider.get_tracer(TRACER_NAME)


def enabled() -> bool:
    """Whether the OpenTelemetry API is importable."""
    return trace is not None


def recording() -> bool:
    """Whether a span would go anywhere: the API is importable and a provider is set.

    Without one (no SDK configured: OpenTelemetry's proxy or no-op provider) every span is
    non-recording, and building it is skipped: it costs tens of microseconds per activation.
    """
    if trace is None:
        return False
    if _provider is not None:
        return True
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def _attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = key if "." in key else f"agentflow.{key}"
        found[name] = value if isinstance(value, str | bool | int | float) else str(value)
    return found


@contextmanager
def span(name: str, parent: Mapping[str, str] | None = None, **attributes: Any) -> Iterator[Any]:
    """A span around a block (the current one's child, or `parent`'s: a stored carrier).

    Yields None when nothing records spans (`recording`).
    """
    if not recording():
        with nullcontext() as nothing:
            yield nothing
        return
    context = TraceContextTextMapPropagator().extract(dict(parent)) if parent else None
    tracer = _tracer()
    with tracer.start_as_current_span(
        name, context=context, attributes=_attributes(attributes)
    ) as current:
        yield current


def new_trace(name: str, **attributes: Any) -> dict[str, str] | None:
    """Open and close a run's root span; its context as a carrier to store (None when off)."""
    if not recording():
        return None
    tracer = _tracer()
    root = tracer.start_span(name, attributes=_attributes(attributes))
    root.end()
    if not root.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier, context=trace.set_span_in_context(root))
    return carrier or None


def record_span(
    name: str, start: float, end: float, error: str | None = None, **attributes: Any
) -> None:
    """A finished span with its own times (epoch seconds), as a child of the current span."""
    if trace is None:
        return
    tracer = _tracer()
    done = tracer.start_span(name, start_time=int(start * 1e9), attributes=_attributes(attributes))
    if error is not None:
        done.set_status(trace.Status(trace.StatusCode.ERROR, error))
    done.end(end_time=int(max(end, start) * 1e9))
