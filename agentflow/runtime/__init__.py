"""The durable runtime: the step API, the executor, workers, leases and tools."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentflow.lazy import exports

if TYPE_CHECKING:
    from agentflow.errors import ToolArgumentsError, ToolsUnavailable
    from agentflow.models import (
        AgentChange,
        Event,
        PlanVersion,
        RunEvent,
        RunState,
        RunStatus,
        StepStatus,
    )
    from agentflow.runtime.activation import LoadedPlan
    from agentflow.runtime.executor import Outcome, run_activation
    from agentflow.runtime.retry import RetryPolicy
    from agentflow.runtime.signals import Suspend, Suspension
    from agentflow.runtime.step_api import RuntimeLimits, StepContext
    from agentflow.runtime.tools import RegisteredTool, ToolHandle, ToolRegistry
    from agentflow.runtime.worker import LeaseKeeper, Wakeup, WorkLoop

# Resolved on first use: a sandbox process imports `agentflow.runtime.sandbox` and the step API
# without the store, the executor or the worker (and so without SQLAlchemy).
_EXPORTS: dict[str, str] = {
    "ToolArgumentsError": "agentflow.errors",
    "ToolsUnavailable": "agentflow.errors",
    "AgentChange": "agentflow.models",
    "Event": "agentflow.models",
    "PlanVersion": "agentflow.models",
    "RunEvent": "agentflow.models",
    "RunState": "agentflow.models",
    "RunStatus": "agentflow.models",
    "StepStatus": "agentflow.models",
    "LoadedPlan": "agentflow.runtime.activation",
    "Outcome": "agentflow.runtime.executor",
    "run_activation": "agentflow.runtime.executor",
    "RetryPolicy": "agentflow.runtime.retry",
    "Suspend": "agentflow.runtime.signals",
    "Suspension": "agentflow.runtime.signals",
    "RuntimeLimits": "agentflow.runtime.step_api",
    "StepContext": "agentflow.runtime.step_api",
    "RegisteredTool": "agentflow.runtime.tools",
    "ToolHandle": "agentflow.runtime.tools",
    "ToolRegistry": "agentflow.runtime.tools",
    "LeaseKeeper": "agentflow.runtime.worker",
    "Wakeup": "agentflow.runtime.worker",
    "WorkLoop": "agentflow.runtime.worker",
}


__getattr__ = exports(globals(), __name__, _EXPORTS)


__all__ = [
    "AgentChange",
    "Event",
    "LeaseKeeper",
    "LoadedPlan",
    "Outcome",
    "PlanVersion",
    "RegisteredTool",
    "RetryPolicy",
    "RunEvent",
    "RunState",
    "RunStatus",
    "RuntimeLimits",
    "StepContext",
    "StepStatus",
    "Suspend",
    "Suspension",
    "ToolArgumentsError",
    "ToolHandle",
    "ToolRegistry",
    "ToolsUnavailable",
    "Wakeup",
    "WorkLoop",
    "run_activation",
]
