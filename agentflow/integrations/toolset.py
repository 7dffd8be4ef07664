"""The operations a framework's model may call, bound to one engine and one agent.

`AgentflowToolset` is what every framework adapter wraps: `plan_and_run`, `get_run` and
`send_event`, each taking and returning JSON-ready data, so the same three tools behave alike in
a plain function-calling loop, pydantic-ai, LangChain and the OpenAI Agents SDK. The agent is
bound by the host, never chosen by the model: a tool handed to one tenant's model reaches only
that tenant's agent and runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentflow.errors import AgentflowError
from agentflow.planner import default_engine, plan_and_run

if TYPE_CHECKING:
    from agentflow.engine import Engine
    from agentflow.planner.model import PlannerModel
    from agentflow.runtime import RunStatus


class PlanAndRunArgs(BaseModel):
    """The arguments of the `plan_and_run` tool."""

    model_config = ConfigDict(extra="forbid")

    goal: str = Field(
        description="The long-running task, in plain words: what to do, when, and how long to "
        "wait for what (e.g. 'every Monday for a month, email the open-order report to ops')."
    )
    params: dict[str, Any] | None = Field(
        default=None, description="The run's input (the plan reads it as event.params)."
    )


class GetRunArgs(BaseModel):
    """The arguments of the `get_run` tool."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description="The run id that plan_and_run returned.")


class SendEventArgs(BaseModel):
    """The arguments of the `send_event` tool."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description="The run id that plan_and_run returned.")
    type: str = Field(description="The event type the run waits for (its 'waiting_for').")
    payload: Any = Field(default=None, description="The event's data, any JSON value.")


#: Each tool's description and argument model, by tool name.
TOOL_SPECS: dict[str, tuple[str, type[BaseModel]]] = {
    "plan_and_run": (
        "Hand a long-running task to agentflow. It writes a durable workflow for the goal, "
        "checks it, has it reviewed when the agent's policy requires, and starts a run that "
        "can sleep for days and wait for events without holding anything. Returns the run id, "
        "its status ('awaiting_review', 'started', or the final status), the plan version and "
        "its review state. Use get_run to follow the run.",
        PlanAndRunArgs,
    ),
    "get_run": (
        "Read an agentflow run: its status ('queued', 'running', 'sleeping', 'waiting', "
        "'complete', 'errored', ...), its output or error, what it waits for, and its steps.",
        GetRunArgs,
    ),
    "send_event": (
        "Send an event to an agentflow run that waits for it (a decision, a webhook, a reply).",
        SendEventArgs,
    ),
}


def parameters_schema(name: str) -> dict[str, Any]:
    """The JSON schema of a tool's arguments."""
    schema = TOOL_SPECS[name][1].model_json_schema()
    schema.pop("title", None)
    return schema


def run_summary(status: RunStatus) -> dict[str, Any]:
    """A run's state as JSON-ready data: what a model needs to follow it."""
    return {
        "run_id": status.id,
        "agent_id": status.agent_id,
        "plan_id": status.plan_id,
        "status": status.status,
        "output": status.output,
        "error": status.error,
        "waiting_for": status.waiting_for,
        "wake_at": status.wake_at.isoformat() if status.wake_at else None,
        "steps": [
            {"name": s.name, "status": s.status, "attempts": s.attempts}
            for s in status.steps
            if s.parent is None
        ],
    }


@dataclass(frozen=True)
class AgentflowToolset:
    """`plan_and_run`, `get_run` and `send_event` for one agent, as a model calls them.

    Args:
        agent: the agent id the tools act for (created by the first `plan_and_run` with `tools`
            if it does not exist).
        engine: default: the planner's default engine (`AGENTFLOW_DATABASE_URL`).
        model: the planner's model (a litellm name or a model object); default: the agent's,
            `AGENTFLOW_MODEL`, else a recorded reply.
        tools: the tool allow-list of an agent `plan_and_run` creates.
        wait: make `plan_and_run` drive the run to its end before it answers.
        timeout: seconds `plan_and_run` waits with `wait=True`.
    """

    agent: str
    engine: Engine | None = None
    model: str | PlannerModel | None = None
    tools: Sequence[str] | None = None
    wait: bool = False
    timeout: float | None = None

    def _engine(self) -> Engine:
        if self.engine is not None:
            return self.engine
        return default_engine()

    def plan_and_run(self, goal: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Plan the goal (or reuse its approved plan) and start a run.

        Returns:
            `PlanAndRunResult.model_dump()`.
        """
        result = plan_and_run(
            goal,
            self.agent,
            params,
            engine=self._engine(),
            model=self.model,
            tools=self.tools,
            wait=self.wait,
            timeout=self.timeout,
        )
        return result.model_dump()

    def get_run(self, run_id: str) -> dict[str, Any]:
        """One of this agent's runs (`run_summary`); another agent's run is NotFound."""
        run = self._engine().get_agent(self.agent).get_run(run_id)
        return run_summary(run.status())

    def send_event(self, run_id: str, type: str, payload: Any = None) -> dict[str, Any]:
        """Send an event to one of this agent's runs; the run's state after it."""
        run = self._engine().get_agent(self.agent).get_run(run_id)
        run.send_event(type, payload)
        return {"sent": type, **run_summary(run.status())}

    def call(self, name: str, arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """Execute a tool call by name with its JSON (or decoded) arguments.

        Bad arguments and agentflow's errors come back as `{"error": {"type", "message"}}`, so
        the model can read what went wrong and try again; anything else propagates.
        """
        if name not in TOOL_SPECS:
            return _error("UnknownTool", f"no tool {name!r}; choose from {', '.join(TOOL_SPECS)}")
        try:
            decoded = json.loads(arguments) if isinstance(arguments, str) else dict(arguments or {})
            args = TOOL_SPECS[name][1].model_validate(decoded)
        except (ValueError, TypeError, ValidationError) as exc:
            return _error("InvalidArguments", str(exc))
        try:
            if isinstance(args, PlanAndRunArgs):
                return self.plan_and_run(args.goal, args.params)
            if isinstance(args, GetRunArgs):
                return self.get_run(args.run_id)
            assert isinstance(args, SendEventArgs)
            return self.send_event(args.run_id, args.type, args.payload)
        except AgentflowError as exc:
            return _error(type(exc).__name__, str(exc))

    async def acall(self, name: str, arguments: str | Mapping[str, Any] | None) -> dict[str, Any]:
        """`call` for async code: the store and the planner run in a worker thread."""
        return await asyncio.to_thread(self.call, name, arguments)


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message}}
