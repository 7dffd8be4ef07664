"""agentflow: AI agents write their own durable workflows.

An agent emits a plan (`def run(event, step)`), the restricted compiler validates it, and the
durable executor runs it step by step, checkpointing every result, so that a run survives
sleeps, waits for events and process restarts.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agentflow.lazy import exports

if TYPE_CHECKING:
    from agentflow.agent import Agent
    from agentflow.diagnostics import Diagnostic
    from agentflow.engine import Engine
    from agentflow.errors import (
        AgentflowError,
        AmbiguousRunId,
        ConfigurationError,
        DuplicateApproval,
        InvalidRunId,
        LimitExceeded,
        ModelUnavailable,
        NonDeterminismError,
        NonRetryableError,
        NotFound,
        PlanAlreadyDecided,
        PlanBudgetExceeded,
        PlanningFailed,
        PlanNotApproved,
        PlanSignal,
        PlanValidationError,
        RunError,
        RunFailed,
        RunStateError,
        RunTimeout,
        StepFailed,
        StepTimeout,
        ToolNotAllowed,
        UsageError,
        WaitTimeout,
    )
    from agentflow.models import HistoryEntry
    from agentflow.plan import CompiledPlan, PlanLimits, PlanSummary, compile_plan
    from agentflow.planner import (
        PlanAndRunResult,
        plan_and_run,
        plan_and_run_async,
        plan_async,
        repair,
        repair_async,
    )
    from agentflow.run import Run
    from agentflow.runtime import (
        AgentChange,
        Event,
        PlanVersion,
        RunEvent,
        RunStatus,
        RuntimeLimits,
        StepStatus,
    )
    from agentflow.runtime.sandbox.pool import SandboxSettings

__version__ = "0.1.0"

# Public names resolve lazily, so `import agentflow` stays cheap for the CLI and for tools that
# only need the compiler (SQLAlchemy and friends load on first use).
_EXPORTS: dict[str, str] = {
    "Agent": "agentflow.agent",
    "Engine": "agentflow.engine",
    "Diagnostic": "agentflow.diagnostics",
    "CompiledPlan": "agentflow.plan",
    "PlanLimits": "agentflow.plan",
    "PlanSummary": "agentflow.plan",
    "compile_plan": "agentflow.plan",
    "PlanAndRunResult": "agentflow.planner",
    "plan_and_run": "agentflow.planner",
    "plan_and_run_async": "agentflow.planner",
    "plan_async": "agentflow.planner",
    "repair": "agentflow.planner",
    "repair_async": "agentflow.planner",
    "Run": "agentflow.run",
    "AgentChange": "agentflow.runtime",
    "Event": "agentflow.runtime",
    "HistoryEntry": "agentflow.models",
    "PlanVersion": "agentflow.runtime",
    "RunEvent": "agentflow.runtime",
    "RunStatus": "agentflow.runtime",
    "RuntimeLimits": "agentflow.runtime",
    "StepStatus": "agentflow.runtime",
    "SandboxSettings": "agentflow.runtime.sandbox.pool",
}
_ERRORS = [
    "AgentflowError",
    "AmbiguousRunId",
    "ConfigurationError",
    "DuplicateApproval",
    "InvalidRunId",
    "LimitExceeded",
    "ModelUnavailable",
    "NonDeterminismError",
    "NonRetryableError",
    "NotFound",
    "PlanAlreadyDecided",
    "PlanBudgetExceeded",
    "PlanNotApproved",
    "PlanSignal",
    "PlanValidationError",
    "PlanningFailed",
    "RunError",
    "RunFailed",
    "RunStateError",
    "RunTimeout",
    "StepFailed",
    "StepTimeout",
    "ToolNotAllowed",
    "UsageError",
    "WaitTimeout",
]
_EXPORTS.update(dict.fromkeys(_ERRORS, "agentflow.errors"))


_resolve = exports(globals(), __name__, _EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "plan":
        # The compiler subpackage (the planner's function is `agentflow.planner.plan`).
        return importlib.import_module("agentflow.plan")
    return _resolve(name)


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "Agent",
    "AgentChange",
    "AgentflowError",
    "AmbiguousRunId",
    "CompiledPlan",
    "ConfigurationError",
    "Diagnostic",
    "DuplicateApproval",
    "Engine",
    "Event",
    "HistoryEntry",
    "InvalidRunId",
    "LimitExceeded",
    "ModelUnavailable",
    "NonDeterminismError",
    "NonRetryableError",
    "NotFound",
    "PlanAlreadyDecided",
    "PlanAndRunResult",
    "PlanBudgetExceeded",
    "PlanLimits",
    "PlanNotApproved",
    "PlanSignal",
    "PlanSummary",
    "PlanValidationError",
    "PlanVersion",
    "PlanningFailed",
    "Run",
    "RunError",
    "RunEvent",
    "RunFailed",
    "RunStateError",
    "RunStatus",
    "RunTimeout",
    "RuntimeLimits",
    "SandboxSettings",
    "StepFailed",
    "StepStatus",
    "StepTimeout",
    "ToolNotAllowed",
    "UsageError",
    "WaitTimeout",
    "__version__",
    "compile_plan",
    "plan",
    "plan_and_run",
    "plan_and_run_async",
    "plan_async",
    "repair",
    "repair_async",
]
