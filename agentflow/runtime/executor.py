"""One activation of a run: load the agent's plan, replay it, checkpoint, and settle the run."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from agentflow.errors import AgentflowError, PlanValidationError
from agentflow.plain import error_message, safe_text
from agentflow.plan.data import RunInput
from agentflow.runtime.signals import Suspend
from agentflow.runtime.step_api import RuntimeLimits, StepContext, checkpointable
from agentflow.store import LeaseLost, RunRow, Store

log = logging.getLogger("agentflow.executor")


class ToolsUnavailable(AgentflowError):
    """This process lacks tools the run's agent needs; another worker that has them may run it."""


class LoadedPlan(Protocol):
    """What the executor needs of a compiled plan: the narrow step protocol, nothing more."""

    filename: str

    def execute(
        self,
        event: Any,
        step: Any,
        tools: Mapping[str, Callable[..., Any]],
        *,
        print_sink: Callable[[str], None] | None = None,
    ) -> Any: ...


PlanLoader = Callable[[RunRow], tuple[LoadedPlan, Mapping[str, Callable[..., Any]]]]


@dataclass(frozen=True)
class Outcome:
    """How an activation left its run."""

    run_id: str
    status: str
    wake_at: float | None = None


def describe_error(exc: BaseException, plan_filename: str | None = None) -> dict[str, Any]:
    """A stored error: its type, message, the step it names and the plan line it came from."""
    error: dict[str, Any] = {"type": type(exc).__name__, "message": error_message(exc)}
    step = getattr(exc, "step", None)
    if isinstance(step, str):
        error["step"] = step
    line = getattr(exc, "line", None)
    if isinstance(line, int):
        error["line"] = line
    if plan_filename is not None:
        lines = [
            frame.lineno
            for frame in traceback.extract_tb(exc.__traceback__)
            if frame.filename == plan_filename
        ]
        if lines:
            error["line"] = lines[-1]
    if isinstance(exc, PlanValidationError):
        error["diagnostics"] = [d.model_dump() for d in exc.diagnostics]
    return error


def run_activation(
    store: Store,
    run: RunRow,
    owner: str,
    load: PlanLoader,
    limits: RuntimeLimits,
) -> Outcome:
    """Drive a claimed run as far as it goes now, then release it in its new state."""
    if run.unsettled >= limits.max_unsettled_activations:
        return _give_up(store, run, owner, limits)
    records = store.load_steps(run.id)
    step = StepContext(
        store=store,
        run_id=run.id,
        owner=owner,
        records=records,
        limits=limits,
        rebase=run.rebase,
        control=run.control,
    )
    printed: list[str] = []

    def print_sink(text: str) -> None:
        if not step.replaying:
            printed.append(text if text.endswith("\n") else text + "\n")

    event = RunInput(
        params=dict(run.params or {}),
        run_id=run.id,
        agent_id=run.agent_id,
        timestamp=datetime.fromtimestamp(run.created_at, tz=UTC),
    )
    filename: str | None = None
    try:
        plan, tools = load(run)
        filename = plan.filename
        value = plan.execute(event, step, tools, print_sink=print_sink)
        output = checkpointable(value, limits.max_output_bytes, f"the output of run {run.id}")
    except Suspend as signal:
        suspension = signal.suspension
        fields: dict[str, Any] = {
            "status": suspension.status,
            "wake_at": suspension.wake_at,
            "waiting_for": suspension.waiting_for,
            "control": None,
            "rebase": False,
        }
        if suspension.status == "terminated":
            fields.update(
                ended_at=time.time(),
                error={"type": "Terminated", "message": "terminated on request"},
            )
        return _settle(store, run, owner, printed, limits, fields)
    except LeaseLost:
        return Outcome(run.id, "lost")
    except ToolsUnavailable as exc:
        retry_at = time.time() + limits.missing_tools_retry
        fields = {"status": "queued", "wake_at": retry_at, "error": describe_error(exc)}
        return _settle(store, run, owner, printed, limits, fields)
    except (AgentflowError, Exception) as exc:
        fields = {
            "status": "errored",
            "error": describe_error(exc, filename),
            "ended_at": time.time(),
            "wake_at": None,
            "waiting_for": None,
            "control": None,
            "rebase": False,
        }
        return _settle(store, run, owner, printed, limits, fields)
    fields = {
        "status": "complete",
        "output": output,
        "error": None,
        "ended_at": time.time(),
        "wake_at": None,
        "waiting_for": None,
        "control": None,
        "rebase": False,
    }
    return _settle(store, run, owner, printed, limits, fields)


def _settle(
    store: Store,
    run: RunRow,
    owner: str,
    printed: list[str],
    limits: RuntimeLimits,
    fields: dict[str, Any],
) -> Outcome:
    """Store the log and the run's new state; whatever the plan produced, the worker goes on."""
    fields = {**fields, "unsettled": 0}
    try:
        if printed:
            store.append_log(run.id, safe_text("".join(printed)), limits.max_log_chars)
        settled = store.finish_activation(run.id, owner, **fields)
    except LeaseLost:
        return Outcome(run.id, "lost")
    except Exception as exc:
        log.exception("could not store the end of an activation of run %s", run.id)
        error = {
            "type": "SettleFailed",
            "message": "the run's new state could not be stored: "
            f"{type(exc).__name__}: {error_message(exc, 500)}",
        }
        return _settle_errored(store, run, owner, error)
    if not settled:
        return Outcome(run.id, "lost")
    return Outcome(run.id, fields["status"], fields.get("wake_at"))


def _settle_errored(store: Store, run: RunRow, owner: str, error: dict[str, Any]) -> Outcome:
    fields = {
        "status": "errored",
        "error": error,
        "ended_at": time.time(),
        "wake_at": None,
        "waiting_for": None,
        "control": None,
        "rebase": False,
        "unsettled": 0,
    }
    try:
        settled = store.finish_activation(run.id, owner, **fields)
    except (LeaseLost, Exception):
        # Left `running`: the lease lapses and the next claim counts the lost activation.
        log.exception("could not settle run %s as errored", run.id)
        return Outcome(run.id, "lost")
    return Outcome(run.id, "errored" if settled else "lost")


def _give_up(store: Store, run: RunRow, owner: str, limits: RuntimeLimits) -> Outcome:
    last = (run.error or {}).get("message") if isinstance(run.error, dict) else None
    error = {
        "type": "ActivationsLost",
        "message": f"{run.unsettled} activations of this run in a row ended without settling "
        "it (the worker or its sandbox died, or its state could not be stored); the limit is "
        f"{limits.max_unsettled_activations}" + (f". Last error: {last}" if last else ""),
    }
    return _settle_errored(store, run, owner, error)
