"""agentflow's tools for the OpenAI Agents SDK (`pip install 'agentflow[openai-agents]'`).

Example:
    >>> from agents import Agent                                          # doctest: +SKIP
    >>> from agentflow.integrations import AgentflowToolset
    >>> from agentflow.integrations.openai_agents import as_tools
    >>> assistant = Agent(name="ops", tools=as_tools(AgentflowToolset("acme")))
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agentflow.integrations.toolset import TOOL_SPECS, AgentflowToolset, parameters_schema

if TYPE_CHECKING:
    from agents import FunctionTool


def as_tool(toolset: AgentflowToolset, name: str = "plan_and_run") -> FunctionTool:
    """One of agentflow's tools ("plan_and_run", "get_run", "send_event") as a `FunctionTool`.

    The schema is not "strict" (a run's params are free-form JSON); the tool answers with the
    result as a JSON string, and agentflow's errors come back as `{"error": {...}}`.
    """
    from agents import FunctionTool

    async def invoke(_context: Any, arguments: str) -> str:
        return json.dumps(await toolset.acall(name, arguments), default=str)

    return FunctionTool(
        name=name,
        description=TOOL_SPECS[name][0],
        params_json_schema=parameters_schema(name),
        on_invoke_tool=invoke,
        strict_json_schema=False,
    )


def as_tools(toolset: AgentflowToolset) -> list[FunctionTool]:
    """`plan_and_run`, `get_run` and `send_event` as Agents SDK tools."""
    return [as_tool(toolset, name) for name in TOOL_SPECS]
