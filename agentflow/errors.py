"""Every error agentflow raises, in three families under `AgentflowError`.

- `UsageError`: the SDK was used in a way that cannot work, or asked for something the current
  state does not allow: `PlanValidationError`, `ToolNotAllowed`, `NotFound`, `RunStateError`, ...
- `RunError`: the work itself failed: a run, a step, the sandbox or the planner's model:
  `RunFailed`, `NonDeterminismError`, `WaitTimeout`, `StepTimeout`, `PlanningFailed`, ...
- `PlanSignal`: raised by plan code on purpose: `NonRetryableError`.

A host can catch a family, or the whole of agentflow at once with `AgentflowError`.

The executor's own signals (`LeaseLost`, the compute budget's, the runtime's suspension) are not
errors: they derive from `ExecutorSignal`, a `BaseException`, so that plan code cannot catch them.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentflow.diagnostics import Diagnostic as Diagnostic


def __getattr__(name: str) -> Any:
    # `Diagnostic` is a pydantic model: it loads on first use, so that a sandbox process, which
    # needs these errors and never a diagnostic, starts without pydantic.
    if name == "Diagnostic":
        return importlib.import_module("agentflow.diagnostics").Diagnostic
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class AgentflowError(Exception):
    """Root of every error agentflow raises."""


class UsageError(AgentflowError):
    """Family: agentflow was used in a way that cannot work, or asked what the state forbids."""


class RunError(AgentflowError):
    """Family: the work failed: a run, a step, the plan's sandbox or the planner's model."""


class PlanSignal(AgentflowError):
    """Family: raised by plan code on purpose, to steer the runtime."""


class ExecutorSignal(BaseException):
    """Internal: the executor unwinds plan code with these; they are never an error of yours.

    A BaseException, so that plan code's `except Exception` cannot catch one. A signal that
    reaches a user was swallowed on its way to the executor, and its message says so.
    """

    def __str__(self) -> str:
        detail = super().__str__()
        return (
            f"{type(self).__name__}({detail}) is agentflow's internal signal to stop plan code; "
            "if you see this, a bare `except:` or `except BaseException:` swallowed it on its "
            "way to the executor: re-raise it there"
        )


class PlanValidationError(UsageError):
    """A plan's source breaks the plan language's rules; `.diagnostics` lists every problem."""

    def __init__(self, diagnostics: Sequence[Diagnostic], filename: str = "<plan>") -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.filename = filename
        lines = "\n".join(f"  {d.format(filename)}" for d in self.diagnostics)
        count = len(self.diagnostics)
        super().__init__(f"plan is not valid ({count} problem{'s' * (count != 1)}):\n{lines}")


class ToolNotAllowed(UsageError):
    """A tool is unknown to the engine or outside an agent's allow-list."""

    def __init__(self, tool: str, agent_id: str | None = None, message: str | None = None) -> None:
        self.tool = tool
        self.agent_id = agent_id
        super().__init__(
            message
            or f"tool {tool!r} is not allowed" + (f" for agent {agent_id!r}" if agent_id else "")
        )


class ToolArgumentsError(UsageError):
    """A tool was called with arguments that do not fit its signature."""


class ConfigurationError(UsageError):
    """The engine, an agent or a model is configured in a way that cannot work."""


class ToolsUnavailable(UsageError):
    """This process lacks tools the run's agent needs; another worker that has them may run it."""


class NotFound(UsageError):
    """A plan, run or agent that was asked for does not exist (or is outside the agent's scope)."""


class AmbiguousRunId(UsageError):
    """A run id given without its agent belongs to runs of several agents: name the agent."""

    def __init__(self, run_id: str, agent_ids: Sequence[str]) -> None:
        self.run_id = run_id
        self.agent_ids = list(agent_ids)
        super().__init__(
            f"run id {run_id!r} is used by {len(self.agent_ids)} agents "
            f"({', '.join(self.agent_ids)}): name one, e.g. "
            f"engine.get_run({run_id!r}, agent={self.agent_ids[0]!r})"
        )


class PlanNotApproved(UsageError):
    """A run was asked to start on a plan version that no reviewer approved."""

    def __init__(self, plan_id: int, status: str) -> None:
        self.plan_id = plan_id
        self.status = status
        super().__init__(
            f"plan version {plan_id} is {status}, not approved: approve it first "
            f"(`agentflow review approve {plan_id}`)"
        )


class LimitExceeded(UsageError):
    """A configured limit (output size, payload size, step count) was exceeded."""

    def __init__(self, message: str, *, step: str | None = None, run_id: str | None = None) -> None:
        self.step = step
        self.run_id = run_id
        super().__init__(message)


class InvalidRunId(LimitExceeded):
    """A run id chosen by the caller is not 1-128 letters, digits or `._:@-`.

    A `LimitExceeded` only because earlier versions raised that; catch `InvalidRunId`.
    """

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"run id {run_id!r} must be 1-128 letters, digits or ._:@- "
            "and start with a letter or digit",
            run_id=run_id,
        )


class PlainDataError(UsageError, ValueError):
    """A value cannot be stored as plain JSON data; the message says what and where."""


class RunStateError(UsageError):
    """The run is not in a state that allows what was asked (e.g. an event to a finished run)."""


class PlanAlreadyDecided(RunStateError):
    """A plan version was already approved or rejected; a decision is final.

    A `RunStateError` only because earlier versions raised that; catch `PlanAlreadyDecided`.
    """

    def __init__(self, plan_id: int, status: str, decided_by: str | None = None) -> None:
        self.plan_id = plan_id
        self.status = status
        self.decided_by = decided_by
        by = f" by {decided_by}" if decided_by else ""
        super().__init__(
            f"plan version {plan_id} is already {status}{by}; "
            "a decision is final: submit a new version instead"
        )


class DuplicateApproval(UsageError):
    """A reviewer approved a plan version they had already approved (the two-person rule).

    The agent's `approvals` policy asks distinct reviewers for a plan version of this risk;
    the approval was not recorded and the version stays pending.
    """

    def __init__(self, plan_id: int, reviewer: str, given: int, required: int) -> None:
        self.plan_id = plan_id
        self.reviewer = reviewer
        self.given = given
        self.required = required
        super().__init__(
            f"reviewer {reviewer!r} already approved plan version {plan_id} "
            f"({given} of {required} approvals): the agent's policy needs {required} "
            "approvals from distinct reviewers, so another reviewer must approve it"
        )


class MissingReviewer(UsageError, ValueError):
    """A review decision was asked for without the reviewer's name."""

    def __init__(self) -> None:
        super().__init__("a review decision needs the reviewer's name")


class SchemaVersionError(UsageError):
    """The database was made by a newer agentflow than the one reading it."""


class ScriptExhausted(UsageError, RuntimeError):
    """A `ScriptedModel` (agentflow.testing) was asked more often than it has replies."""


class RunFailed(RunError):
    """A run ended in `errored` or `terminated`; `.error` is the stored error."""

    def __init__(self, run_id: str, status: str, error: dict[str, Any] | None) -> None:
        self.run_id = run_id
        self.status = status
        self.error = error or {}
        detail = self.error.get("message", "") if self.error else ""
        super().__init__(f"run {run_id} {status}" + (f": {detail}" if detail else ""))


class RunTimeout(RunError):
    """`Run.result(timeout=...)` ran out of time before the run ended."""

    def __init__(self, run_id: str, status: str, timeout: float) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(f"run {run_id} is still {status} after {timeout:g} s")


class NonDeterminismError(RunError):
    """On replay the plan asked for different steps than the ones recorded."""

    def __init__(self, message: str, *, run_id: str | None = None, step: str | None = None) -> None:
        self.run_id = run_id
        self.step = step
        super().__init__(message)


class WaitTimeout(RunError):
    """`step.wait_for_event` saw no event of its type before its timeout (catchable in plans)."""

    def __init__(self, step: str, event_type: str, timeout: float) -> None:
        self.step = step
        self.event_type = event_type
        self.timeout = timeout
        super().__init__(
            f"step {step!r} waited {timeout:g} s for an event of type {event_type!r}; none came"
        )


class StepTimeout(RunError):
    """One attempt of a step ran longer than its `timeout`."""

    def __init__(self, step: str, timeout: float) -> None:
        self.step = step
        self.timeout = timeout
        super().__init__(f"step {step!r} attempt exceeded its timeout of {timeout:g} s")


class StepFailed(RunError):
    """A step failed for good (retries exhausted or a non-retryable error); catchable in plans."""

    def __init__(self, step: str, error_type: str, message: str, attempts: int = 1) -> None:
        self.step = step
        self.error_type = error_type
        self.error_message = message
        self.attempts = attempts
        super().__init__(
            f"step {step!r} failed after {attempts} attempt{'s' * (attempts != 1)}: "
            f"{error_type}: {message}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.step, self.error_type, self.error_message, self.attempts))


class WorkerLost(RunError, RuntimeError):
    """A step's attempt ended with its worker (SIGKILL, out of memory, power loss)."""


class PlanBudgetExceeded(RunError):
    """Plan code used more compute (loop iterations, calls, time) than its budget allows."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


class RemoteToolError(RunError):
    """A tool failed in the host; keeps the tool's own error type and whether it is final."""

    def __init__(self, remote_type: str, message: str, final: bool) -> None:
        self.remote_type = remote_type
        self.final = final
        super().__init__(message)


class ChannelClosed(RunError):
    """The other end of a sandbox channel closed it (its process ended) or sent garbage."""


class SandboxViolation(RunError):
    """The sandbox sent something no honest plan side sends."""


class PlanningFailed(RunError):
    """The model did not produce a valid plan within the allowed attempts."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__(message)


class ModelUnavailable(RunError):
    """The model could not be reached or is not configured (missing key, unknown model)."""


class NonRetryableError(PlanSignal):
    """Raise inside a step (or a tool) to fail it at once, without further retries."""


class LeaseLost(ExecutorSignal):
    """This worker no longer holds the run's lease; another worker owns the run now."""


class BudgetSignal(ExecutorSignal):
    """The plan's compute budget ran out; `CompiledPlan.execute` raises `PlanBudgetExceeded`."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
