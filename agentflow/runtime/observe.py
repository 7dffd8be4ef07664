"""What an activation tells the outside: a log line, and OpenTelemetry spans in the run's trace.

The run's trace context is stored with the run the first time one of its activations is traced,
so every later activation, in any worker, continues the same trace. Steps are recorded as spans
after the activation, from their checkpoints (real start and end times), which keeps tracing out
of the step API and out of sandboxed plan code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agentflow import telemetry
from agentflow.store import RunRow, Store

log = logging.getLogger("agentflow.worker")


@dataclass
class ActivationReport:
    """Filled in by the activation: how it left its run."""

    status: str | None = None


def run_trace(store: Store, row: RunRow) -> dict[str, str] | None:
    """The run's stored trace context; a new trace (stored with the run) when it has none."""
    if row.trace_context:
        return dict(row.trace_context)
    carrier = telemetry.new_trace(
        "agentflow.run", run_id=row.run_id, run_key=row.id, agent_id=row.agent_id
    )
    if carrier is not None:
        store.set_trace_context(row.id, carrier)
    return carrier


def _record_steps(store: Store, row: RunRow, since: float) -> None:
    for step in store.load_steps(row.id):
        if step.started_at is None or step.ended_at is None or step.ended_at < since:
            continue
        error = step.error.get("message") if step.error else None
        telemetry.record_span(
            f"agentflow.step {step.name}",
            step.started_at,
            step.ended_at,
            error=str(error) if error is not None else None,
            run_id=row.run_id,
            agent_id=row.agent_id,
            step=step.name,
            step_key=step.key,
            kind=step.kind,
            status=step.status,
            attempts=step.attempts,
        )


@contextmanager
def observe_activation(store: Store, row: RunRow, owner: str) -> Iterator[ActivationReport]:
    """Around one activation: its span (with its steps' spans) and its log line."""
    report = ActivationReport()
    started = time.time()
    carrier = run_trace(store, row) if telemetry.recording() else None
    with telemetry.span(
        "agentflow.activation",
        parent=carrier,
        run_id=row.run_id,
        run_key=row.id,
        agent_id=row.agent_id,
        plan_id=row.plan_id,
        activation=row.activations,
        worker=owner,
    ) as current:
        yield report
        if current is not None and current.is_recording():
            current.set_attribute("agentflow.status", report.status or "")
            _record_steps(store, row, started)
    if not log.isEnabledFor(logging.INFO):
        return
    log.info(
        "run %s (agent %s) activation %d: %s in %.3f s",
        row.run_id,
        row.agent_id,
        row.activations,
        report.status,
        time.time() - started,
        extra={
            "run_id": row.run_id,
            "agent_id": row.agent_id,
            "plan_id": row.plan_id,
            "activation": row.activations,
            "status": report.status,
            "seconds": round(time.time() - started, 6),
            "worker": owner,
        },
    )
