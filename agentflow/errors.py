"""Every error agentflow raises, in three families.

- misuse of the SDK or a plan that may not run: `PlanValidationError`, `ToolNotAllowed`, ...
- failures of a run: `RunFailed`, `NonDeterminismError`, `WaitTimeout`, `StepTimeout`, ...
- signals that plan code raises on purpose: `NonRetryableError`.

All of them derive from `AgentflowError`, so a host can catch the whole family at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict


class Diagnostic(BaseModel):
    """One problem found in a plan's source, at a line and column (both 1-based)."""

    model_config = ConfigDict(frozen=True)

    line: int
    col: int
    code: str
    message: str
    severity: str = "error"

    def format(self, filename: str = "<plan>") -> str:
        """Render in linter form: ``file:line:col: CODE message``."""
        return f"{filename}:{self.line}:{self.col}: {self.code} {self.message}"

    def __str__(self) -> str:
        return f"line {self.line}, col {self.col}: {self.code} {self.message}"


class AgentflowError(Exception):
    """Root of every error agentflow raises."""


# --- misuse ---------------------------------------------------------------------------------


class PlanValidationError(AgentflowError):
    """A plan's source breaks the plan language's rules; `.diagnostics` lists every problem."""

    def __init__(self, diagnostics: Sequence[Diagnostic], filename: str = "<plan>") -> None:
        self.diagnostics: list[Diagnostic] = list(diagnostics)
        self.filename = filename
        lines = "\n".join(f"  {d.format(filename)}" for d in self.diagnostics)
        count = len(self.diagnostics)
        super().__init__(f"plan is not valid ({count} problem{'s' * (count != 1)}):\n{lines}")


class ToolNotAllowed(AgentflowError):
    """A tool is unknown to the engine or outside an agent's allow-list."""

    def __init__(self, tool: str, agent_id: str | None = None, message: str | None = None) -> None:
        self.tool = tool
        self.agent_id = agent_id
        super().__init__(
            message
            or f"tool {tool!r} is not allowed" + (f" for agent {agent_id!r}" if agent_id else "")
        )


class ConfigurationError(AgentflowError):
    """The engine, an agent or a model is configured in a way that cannot work."""


class NotFound(AgentflowError):
    """A plan, run or agent that was asked for does not exist (or is outside the agent's scope)."""


class AmbiguousRunId(AgentflowError):
    """A run id given without its agent belongs to runs of several agents: name the agent."""

    def __init__(self, run_id: str, agent_ids: Sequence[str]) -> None:
        self.run_id = run_id
        self.agent_ids = list(agent_ids)
        super().__init__(
            f"run id {run_id!r} is used by {len(self.agent_ids)} agents "
            f"({', '.join(self.agent_ids)}): name one, e.g. "
            f"engine.get_run({run_id!r}, agent={self.agent_ids[0]!r})"
        )


class PlanNotApproved(AgentflowError):
    """A run was asked to start on a plan version that no reviewer approved."""

    def __init__(self, plan_id: int, status: str) -> None:
        self.plan_id = plan_id
        self.status = status
        super().__init__(
            f"plan version {plan_id} is {status}, not approved: approve it first "
            f"(`agentflow review approve {plan_id}`)"
        )


class LimitExceeded(AgentflowError):
    """A configured limit (output size, payload size, step count, id length) was exceeded."""

    def __init__(self, message: str, *, step: str | None = None, run_id: str | None = None):
        self.step = step
        self.run_id = run_id
        super().__init__(message)


class SchemaVersionError(AgentflowError):
    """The database was made by a newer agentflow than the one reading it."""


class PlanningFailed(AgentflowError):
    """The model did not produce a valid plan within the allowed attempts."""

    def __init__(self, message: str, diagnostics: Sequence[Diagnostic] = ()) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__(message)


class ModelUnavailable(AgentflowError):
    """The model could not be reached or is not configured (missing key, unknown model)."""


# --- run failures -------------------------------------------------------------------------


class RunFailed(AgentflowError):
    """A run ended in `errored` or `terminated`; `.error` is the stored error."""

    def __init__(self, run_id: str, status: str, error: dict[str, Any] | None) -> None:
        self.run_id = run_id
        self.status = status
        self.error = error or {}
        detail = self.error.get("message", "") if self.error else ""
        super().__init__(f"run {run_id} {status}" + (f": {detail}" if detail else ""))


class RunStateError(AgentflowError):
    """The run is not in a state that allows what was asked (e.g. an event to a finished run)."""


class RunTimeout(AgentflowError):
    """`Run.result(timeout=...)` ran out of time before the run ended."""

    def __init__(self, run_id: str, status: str, timeout: float) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(f"run {run_id} is still {status} after {timeout:g} s")


class NonDeterminismError(AgentflowError):
    """On replay the plan asked for different steps than the ones recorded."""

    def __init__(self, message: str, *, run_id: str | None = None, step: str | None = None):
        self.run_id = run_id
        self.step = step
        super().__init__(message)


class WaitTimeout(AgentflowError):
    """`step.wait_for_event` saw no event of its type before its timeout (catchable in plans)."""

    def __init__(self, step: str, event_type: str, timeout: float) -> None:
        self.step = step
        self.event_type = event_type
        self.timeout = timeout
        super().__init__(
            f"step {step!r} waited {timeout:g} s for an event of type {event_type!r}; none came"
        )


class StepTimeout(AgentflowError):
    """One attempt of a step ran longer than its `timeout`."""

    def __init__(self, step: str, timeout: float) -> None:
        self.step = step
        self.timeout = timeout
        super().__init__(f"step {step!r} attempt exceeded its timeout of {timeout:g} s")


class StepFailed(AgentflowError):
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


class PlanBudgetExceeded(AgentflowError):
    """Plan code used more compute (loop iterations, calls, time) than its budget allows."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


# --- signals raised by plan code ----------------------------------------------------------


class NonRetryableError(AgentflowError):
    """Raise inside a step (or a tool) to fail it at once, without further retries."""


class LeaseLost(BaseException):
    """This worker no longer holds the run's lease; another worker owns the run now.

    A BaseException, so plan code cannot catch it: the activation ends at once.
    """
