"""The durable runtime: the step API, the executor, workers, leases and tools."""

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
from agentflow.runtime.worker import LeaseKeeper, WorkLoop

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
    "WorkLoop",
    "run_activation",
]
