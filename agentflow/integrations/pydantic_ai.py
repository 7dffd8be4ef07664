"""agentflow's tools for pydantic-ai (`pip install 'agentflow[pydantic-ai]'`).

Example:
    >>> from pydantic_ai import Agent                                     # doctest: +SKIP
    >>> from agentflow.integrations import AgentflowToolset
    >>> from agentflow.integrations.pydantic_ai import as_tools
    >>> assistant = Agent("openai:gpt-4o-mini", tools=as_tools(AgentflowToolset("acme")))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from agentflow.integrations.toolset import TOOL_SPECS, AgentflowToolset

if TYPE_CHECKING:
    from pydantic_ai import Tool


def as_tool(toolset: AgentflowToolset, name: str = "plan_and_run") -> Tool[Any]:
    """One of agentflow's tools ("plan_and_run", "get_run", "send_event") as a pydantic-ai Tool.

    The tool runs the store and the planner in a worker thread, so the agent's event loop never
    blocks; agentflow's errors come back to the model as `{"error": {...}}`.
    """
    from pydantic_ai import Tool

    async def plan_and_run(goal: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await toolset.acall("plan_and_run", {"goal": goal, "params": params})

    async def get_run(run_id: str) -> dict[str, Any]:
        return await toolset.acall("get_run", {"run_id": run_id})

    async def send_event(run_id: str, type: str, payload: Any = None) -> dict[str, Any]:
        return await toolset.acall(
            "send_event", {"run_id": run_id, "type": type, "payload": payload}
        )

    functions: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
        "plan_and_run": plan_and_run,
        "get_run": get_run,
        "send_event": send_event,
    }
    return Tool(functions[name], takes_ctx=False, name=name, description=TOOL_SPECS[name][0])


def as_tools(toolset: AgentflowToolset) -> list[Tool[Any]]:
    """`plan_and_run`, `get_run` and `send_event` as pydantic-ai Tools."""
    return [as_tool(toolset, name) for name in TOOL_SPECS]
