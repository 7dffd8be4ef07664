"""agentflow as a tool of agent frameworks: `plan_and_run`, `get_run` and `send_event`.

For any function-calling loop (litellm, the OpenAI client, ...), `function_tools()` describes the
three tools in the OpenAI format and `dispatch_tool_call(call, toolset)` executes one call and
returns the tool message to append. For frameworks, each adapter imports its framework only when
used, and each is an optional extra:

- `agentflow.integrations.pydantic_ai.as_tools(toolset)` (`agentflow[pydantic-ai]`);
- `agentflow.integrations.langchain.as_tools(toolset)` (`agentflow[langchain]`);
- `agentflow.integrations.openai_agents.as_tools(toolset)` (`agentflow[openai-agents]`).

Example:
    >>> from agentflow.integrations import AgentflowToolset, plan_and_run_tool
    >>> toolset = AgentflowToolset(agent="acme-support")
    >>> plan_and_run_tool()["function"]["name"]
    'plan_and_run'
"""

from __future__ import annotations

import json
from typing import Any

from agentflow.integrations.toolset import (
    TOOL_SPECS,
    AgentflowToolset,
    GetRunArgs,
    PlanAndRunArgs,
    SendEventArgs,
    parameters_schema,
    run_summary,
)


def function_tool(name: str) -> dict[str, Any]:
    """One tool in the OpenAI function-calling format (`tools=[...]` of litellm and OpenAI).

    Args:
        name: "plan_and_run", "get_run" or "send_event".
    """
    description, _args = TOOL_SPECS[name]
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": parameters_schema(name),
        },
    }


def plan_and_run_tool() -> dict[str, Any]:
    """The `plan_and_run` tool in the OpenAI function-calling format."""
    return function_tool("plan_and_run")


def function_tools() -> list[dict[str, Any]]:
    """`plan_and_run`, `get_run` and `send_event` in the OpenAI function-calling format."""
    return [function_tool(name) for name in TOOL_SPECS]


def dispatch_tool_call(call: Any, toolset: AgentflowToolset) -> dict[str, Any]:
    """Execute one tool call of a chat completion and return the tool message to send back.

    Args:
        call: a tool call as litellm or the OpenAI client return it (`call.id`,
            `call.function.name`, `call.function.arguments`), or the same as a dict.
        toolset: the agent and engine the call acts for.

    Returns:
        `{"role": "tool", "tool_call_id": ..., "content": <JSON of the result>}`.
    """
    if isinstance(call, dict):
        call_id, function = call.get("id"), call.get("function") or {}
        name, arguments = function.get("name"), function.get("arguments")
    else:
        call_id, name, arguments = call.id, call.function.name, call.function.arguments
    result = toolset.call(str(name), arguments)
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result, default=str)}


__all__ = [
    "TOOL_SPECS",
    "AgentflowToolset",
    "GetRunArgs",
    "PlanAndRunArgs",
    "SendEventArgs",
    "dispatch_tool_call",
    "function_tool",
    "function_tools",
    "parameters_schema",
    "plan_and_run_tool",
    "run_summary",
]
