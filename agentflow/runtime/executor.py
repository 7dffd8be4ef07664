"""One activation of a run: load the agent's plan, replay it, checkpoint, and settle the run."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from agentflow.errors import AgentflowError, PlanValidationError
from agentflow.runtime.models import RunEvent, to_datetime
from agentflow.runtime.signals import Suspend
from agentflow.runtime.step_api import RuntimeLimits, StepContext, checkpointable
from agentflow.store import LeaseLost, RunRow, Store


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
    error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
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

    event = RunEvent(
        params=run.params,
        run_id=run.id,
        agent_id=run.agent_id,
        timestamp=to_datetime(run.created_at) or datetime.now(UTC),
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
    if printed:
        store.append_log(run.id, "".join(printed), limits.max_log_chars)
    if not store.finish_activation(run.id, owner, **fields):
        return Outcome(run.id, "lost")
    return Outcome(run.id, fields["status"], fields.get("wake_at"))
