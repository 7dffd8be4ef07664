"""Plan code driven through one activation, wherever it runs: in the worker or in a sandbox.

`execute_activation` replays a plan over its journal and returns an `ActivationResult`: plain
data that says how the activation ended. The worker's executor settles the run from it; a
sandbox process sends it back to its host as JSON.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from agentflow.checkpoints import StepRecord, StepWrite
from agentflow.errors import AgentflowError, LeaseLost, PlanValidationError
from agentflow.plain import error_message
from agentflow.plan.data import RunInput
from agentflow.runtime.signals import Suspend, Suspension
from agentflow.runtime.step_api import (
    CheckpointThen,
    Journal,
    RuntimeLimits,
    StepContext,
    checkpointable,
)


class LoadedPlan(Protocol):
    """What an activation needs of a compiled plan: the narrow step protocol, nothing more."""

    filename: str

    def execute(
        self,
        event: Any,
        step: Any,
        tools: Mapping[str, Callable[..., Any]],
        *,
        print_sink: Callable[[str], None] | None = None,
    ) -> Any:
        """Run the plan once; see `RunnablePlan.execute`."""


@dataclass(frozen=True)
class RunIdentity:
    """What plan code may know of its run, and the journal state it resumes from.

    `run_id` is the id plan code and callers see; `key` is the run's store-wide key, which its
    step records carry.
    """

    key: str
    run_id: str
    agent_id: str
    params: dict[str, Any]
    created_at: float
    rebase: bool = False
    control: str | None = None


class ResultKind(StrEnum):
    """How an activation ended.

    `crashed`: the plan's sandbox died of something other than a limit; the run is offered
    again and the lost activation counts against it.
    """

    COMPLETE = "complete"
    SUSPENDED = "suspended"
    ERRORED = "errored"
    LOST = "lost"
    CRASHED = "crashed"


@dataclass
class ActivationResult:
    """How plan code left an activation."""

    kind: ResultKind
    output: Any = None
    suspension: Suspension | None = None
    error: dict[str, Any] | None = None
    printed: str = ""
    checkpoints: tuple[StepWrite, ...] = ()
    """Steps finished but not written yet; the run's settlement writes them with it."""


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


def execute_activation(
    plan: LoadedPlan,
    run: RunIdentity,
    journal: Journal,
    owner: str,
    records: list[StepRecord],
    tools: Mapping[str, Callable[..., Any]],
    limits: RuntimeLimits,
    *,
    describe_memory_error: Callable[[], str] | None = None,
    checkpoint_then: CheckpointThen | None = None,
) -> ActivationResult:
    """Replay `plan` over `records`, then run it on as far as it goes now.

    With `checkpoint_then` (inline, on the store), a finished step's checkpoint is written
    with the next attempt's start, or returned in the result for the settlement to write.
    """
    step = StepContext(
        store=journal,
        run_id=run.key,
        owner=owner,
        records=records,
        limits=limits,
        rebase=run.rebase,
        control=run.control,
        checkpoint_then=checkpoint_then,
    )
    result = _drive(plan, run, step, tools, limits, describe_memory_error)
    deferred = step.take_deferred()
    if not deferred or result.kind == ResultKind.LOST:
        return result
    return replace(result, checkpoints=(*deferred, *result.checkpoints))


def _drive(
    plan: LoadedPlan,
    run: RunIdentity,
    step: StepContext,
    tools: Mapping[str, Callable[..., Any]],
    limits: RuntimeLimits,
    describe_memory_error: Callable[[], str] | None,
) -> ActivationResult:
    printed: list[str] = []

    def print_sink(text: str) -> None:
        if not step.replaying:
            printed.append(text if text.endswith("\n") else text + "\n")

    event = RunInput(
        params=dict(run.params or {}),
        run_id=run.run_id,
        agent_id=run.agent_id,
        timestamp=datetime.fromtimestamp(run.created_at, tz=UTC),
    )
    try:
        value = plan.execute(event, step, tools, print_sink=print_sink)
        output = checkpointable(value, limits.max_output_bytes, f"the output of run {run.run_id}")
    except Suspend as signal:
        return ActivationResult(
            ResultKind.SUSPENDED, suspension=signal.suspension, printed="".join(printed)
        )
    except LeaseLost:
        return ActivationResult(ResultKind.LOST)
    except MemoryError:
        message = describe_memory_error() if describe_memory_error else "the plan ran out of memory"
        error = {"type": "MemoryError", "message": message}
        return ActivationResult(ResultKind.ERRORED, error=error, printed="".join(printed))
    except (AgentflowError, Exception) as exc:
        error = describe_error(exc, plan.filename)
        return ActivationResult(ResultKind.ERRORED, error=error, printed="".join(printed))
    finally:
        step.close()
    return ActivationResult(ResultKind.COMPLETE, output=output, printed="".join(printed))
