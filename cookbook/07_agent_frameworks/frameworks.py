"""The same hand-over from four agent frameworks, each driven by its own offline model.

Each function plays one framework's agent: its model decides to call `plan_and_run` with the
goal and params (scripted here, so nothing calls the network), the framework executes agentflow's
tool, and the function returns what the tool answered (the JSON of `PlanAndRunResult`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from agentflow.integrations import AgentflowToolset, dispatch_tool_call, function_tools


def via_litellm(toolset: AgentflowToolset, goal: str, params: dict[str, Any]) -> dict[str, Any]:
    """A plain function-calling loop through litellm: `AGENTFLOW_MODEL` when set, else a mock."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    request = f"{goal}. Params: {json.dumps(params)}"
    messages: list[dict[str, Any]] = [{"role": "user", "content": request}]
    model = os.environ.get("AGENTFLOW_MODEL")
    offline: dict[str, Any] = {}
    if not model:
        arguments = json.dumps({"goal": goal, "params": params})
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "plan_and_run", "arguments": arguments},
        }
        offline = {"mock_tool_calls": [call]}
    response = litellm.completion(
        model=model or "gpt-4o-mini", messages=messages, tools=function_tools(), **offline
    )
    reply = dispatch_tool_call(response.choices[0].message.tool_calls[0], toolset)
    return dict(json.loads(reply["content"]))


def via_pydantic_ai(toolset: AgentflowToolset, goal: str, params: dict[str, Any]) -> dict[str, Any]:
    """A pydantic-ai agent on a `FunctionModel` that calls `plan_and_run`, then answers with
    what it returned.
    """
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel

    from agentflow.integrations.pydantic_ai import as_tools

    def model(messages: list[Any], _info: Any) -> ModelResponse:
        returned = [
            part.content
            for message in messages
            for part in getattr(message, "parts", [])
            if isinstance(part, ToolReturnPart)
        ]
        if returned:
            return ModelResponse(parts=[TextPart(json.dumps(returned[-1]))])
        return ModelResponse(parts=[ToolCallPart("plan_and_run", {"goal": goal, "params": params})])

    assistant = Agent(FunctionModel(model), tools=as_tools(toolset))
    return dict(json.loads(assistant.run_sync(goal).output))


def via_langchain(toolset: AgentflowToolset, goal: str, params: dict[str, Any]) -> dict[str, Any]:
    """LangChain: a fake chat model from langchain_core emits the tool call; the tool runs it."""
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage

    from agentflow.integrations.langchain import as_tools

    call = {"name": "plan_and_run", "args": {"goal": goal, "params": params}, "id": "call_1"}
    model = GenericFakeChatModel(messages=iter([AIMessage(content="", tool_calls=[call])]))
    tools = {tool.name: tool for tool in as_tools(toolset)}
    asked = model.invoke([HumanMessage(goal)])
    answer = tools[asked.tool_calls[0]["name"]].invoke(asked.tool_calls[0])
    return dict(json.loads(answer.content))


def via_openai_agents(
    toolset: AgentflowToolset, goal: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The OpenAI Agents SDK with a custom offline `Model`: it calls `plan_and_run` first, then
    answers with the tool's output; tracing is off, so nothing leaves the process.
    """
    from agents import Agent, ModelResponse, RunConfig, Runner, Usage
    from agents.models.interface import Model
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    from agentflow.integrations.openai_agents import as_tools

    class OfflineModel(Model):
        async def get_response(
            self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any
        ) -> ModelResponse:
            outputs = [
                item["output"]
                for item in (input if isinstance(input, list) else [])
                if isinstance(item, dict) and item.get("type") == "function_call_output"
            ]
            if outputs:
                text = ResponseOutputText(annotations=[], text=str(outputs[-1]), type="output_text")
                message = ResponseOutputMessage(
                    id="msg_1",
                    content=[text],
                    role="assistant",
                    status="completed",
                    type="message",
                )
                return ModelResponse(output=[message], usage=Usage(), response_id=None)
            call = ResponseFunctionToolCall(
                arguments=json.dumps({"goal": goal, "params": params}),
                call_id="call_1",
                name="plan_and_run",
                type="function_call",
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("this offline model does not stream")

    assistant = Agent(name="shop", model=OfflineModel(), tools=as_tools(toolset))
    result = Runner.run_sync(assistant, goal, run_config=RunConfig(tracing_disabled=True))
    return dict(json.loads(result.final_output))


#: Each framework's hand-over and the extra that installs it.
FRAMEWORKS = {
    "litellm": (via_litellm, None),
    "pydantic-ai": (via_pydantic_ai, "pydantic-ai"),
    "langchain": (via_langchain, "langchain"),
    "openai-agents": (via_openai_agents, "openai-agents"),
}
