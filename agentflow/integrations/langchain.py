"""agentflow's tools for LangChain (`pip install 'agentflow[langchain]'`).

Example:
    >>> from agentflow.integrations import AgentflowToolset              # doctest: +SKIP
    >>> from agentflow.integrations.langchain import as_tools
    >>> model = ChatOpenAI(model="gpt-4o-mini").bind_tools(as_tools(AgentflowToolset("acme")))
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agentflow.integrations.toolset import TOOL_SPECS, AgentflowToolset

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool


def as_tool(toolset: AgentflowToolset, name: str = "plan_and_run") -> StructuredTool:
    """One of agentflow's tools ("plan_and_run", "get_run", "send_event") as a LangChain tool.

    It answers with the result as a JSON string (the content of the `ToolMessage`), sync through
    `invoke` and async through `ainvoke`; agentflow's errors come back as `{"error": {...}}`.
    """
    from langchain_core.tools import StructuredTool

    description, args_schema = TOOL_SPECS[name]

    def run(**arguments: Any) -> str:
        return json.dumps(toolset.call(name, arguments), default=str)

    async def arun(**arguments: Any) -> str:
        return json.dumps(await toolset.acall(name, arguments), default=str)

    return StructuredTool.from_function(
        func=run, coroutine=arun, name=name, description=description, args_schema=args_schema
    )


def as_tools(toolset: AgentflowToolset) -> list[StructuredTool]:
    """`plan_and_run`, `get_run` and `send_event` as LangChain tools."""
    return [as_tool(toolset, name) for name in TOOL_SPECS]
