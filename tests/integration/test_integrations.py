"""`plan_and_run` as a tool: the plain function-calling format and dispatcher, litellm's loop,
and pydantic-ai, LangChain and the OpenAI Agents SDK, each with its own offline model; every test
reads the run back from the store.

The agents run under `asyncio.run`, which closes its event loop: the frameworks' `run_sync`
leave theirs open, and their sockets would warn when collected in a later test."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from agentflow import Engine, plan_and_run
from agentflow.integrations import (
    AgentflowToolset,
    dispatch_tool_call,
    function_tools,
    plan_and_run_tool,
)
from agentflow.testing import ScriptedModel, skip_time, temporary_engine

PLAN = """```python
def run(event, step):
    step.sleep("nap", "1 day")
    answer = step.wait_for_event("go ahead", type="go", timeout="1 day")
    return step.do("add", tools.add, a=event.params.get("a", 1), b=answer.payload["b"])
```"""
GOAL = "Tomorrow, add the number I send you to a"


@pytest.fixture
def engine() -> Iterator[Engine]:
    with temporary_engine() as engine:

        @engine.tool(side_effects=False)
        def add(a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

        engine.agent("calc", tools=["add"], review="auto")
        engine.agent("other", tools=["add"], review="auto")
        yield engine


@pytest.fixture
def toolset(engine: Engine) -> AgentflowToolset:
    # One reply per plan the model may ask for: TestModel invents goals, so none is reused.
    return AgentflowToolset("calc", engine=engine, model=ScriptedModel([PLAN] * 5))


def finish(engine: Engine, run_id: str, b: int = 2) -> Any:
    """Skip the run's day, send its event, and return its output."""
    run = engine.get_run(run_id)
    engine.work()
    skip_time(engine, run=run)
    engine.work()
    assert run.status().waiting_for == "go"
    run.send_event("go", {"b": b})
    return run.result(timeout=30)


def test_plan_and_run_result_dumps_to_json(engine: Engine):
    result = plan_and_run(GOAL, "calc", {"a": 1}, engine=engine, model=ScriptedModel([PLAN]))
    data = json.loads(result.model_dump_json())
    assert data == result.model_dump()
    assert data["run_id"] == result.run_id and data["status"] == "started"
    assert (data["agent_id"], data["plan_version"], data["review"]) == ("calc", 1, "approved")
    assert data["output"] is None and data["reused"] is False and data["message"]
    reviewed = engine.agent("reviewed", tools=["add"], review="required")
    pending = plan_and_run(GOAL, reviewed, engine=engine, model=ScriptedModel([PLAN])).model_dump()
    assert (pending["status"], pending["review"]) == ("awaiting_review", "pending")


def test_function_tools_describe_the_three_operations():
    tools = function_tools()
    assert [t["function"]["name"] for t in tools] == ["plan_and_run", "get_run", "send_event"]
    schema = plan_and_run_tool()["function"]["parameters"]
    assert schema["required"] == ["goal"] and set(schema["properties"]) == {"goal", "params"}
    assert tools[2]["function"]["parameters"]["required"] == ["run_id", "type"]


def test_dispatcher_runs_plan_get_and_send_and_reports_errors(engine, toolset):
    def call(name: str, arguments: Any) -> dict[str, Any]:
        message = dispatch_tool_call(
            {"id": "c1", "function": {"name": name, "arguments": json.dumps(arguments)}}, toolset
        )
        assert message["role"] == "tool" and message["tool_call_id"] == "c1"
        return json.loads(message["content"])

    started = call("plan_and_run", {"goal": GOAL, "params": {"a": 40}})
    run_id = started["run_id"]
    engine.work()
    assert call("get_run", {"run_id": run_id})["status"] == "sleeping"
    skip_time(engine)
    engine.work()
    waiting = call("get_run", {"run_id": run_id})
    assert (waiting["status"], waiting["waiting_for"]) == ("waiting", "go")
    assert call("send_event", {"run_id": run_id, "type": "go", "payload": {"b": 2}})["sent"] == "go"
    assert engine.get_run(run_id).result(timeout=30) == 42
    assert call("get_run", {"run_id": run_id})["output"] == 42

    assert call("nope", {})["error"]["type"] == "UnknownTool"
    assert call("plan_and_run", {"params": {}})["error"]["type"] == "InvalidArguments"
    other = engine.get_agent("other").submit_plan("def run(event, step):\n    return 1\n")
    foreign = engine.get_agent("other").start(plan=other)
    assert call("get_run", {"run_id": foreign.id})["error"]["type"] == "NotFound"


def test_a_litellm_function_calling_loop_hands_the_task_over(engine, toolset):
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "plan_and_run", "arguments": json.dumps({"goal": GOAL})},
    }
    messages: list[dict[str, Any]] = [{"role": "user", "content": GOAL}]
    response = litellm.completion(
        model="gpt-4o-mini", messages=messages, tools=function_tools(), mock_tool_calls=[call]
    )
    tool_calls = response.choices[0].message.tool_calls
    assert tool_calls[0].function.name == "plan_and_run"
    reply = dispatch_tool_call(tool_calls[0], toolset)
    assert reply["tool_call_id"] == "call_1"
    assert finish(engine, json.loads(reply["content"])["run_id"]) == 3


def test_pydantic_ai_test_model_calls_plan_and_run(engine, toolset):
    from pydantic_ai import Agent
    from pydantic_ai.models.test import TestModel

    from agentflow.integrations.pydantic_ai import as_tools

    assistant = Agent(TestModel(call_tools=["plan_and_run"]), tools=as_tools(toolset))
    result = asyncio.run(assistant.run("hand it over"))
    started = json.loads(result.output)["plan_and_run"]
    assert started["status"] == "started" and started["review"] == "approved"
    assert finish(engine, started["run_id"]) == 3


def test_pydantic_ai_function_model_plans_then_reads_the_run(engine, toolset):
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.models.function import FunctionModel

    from agentflow.integrations.pydantic_ai import as_tools

    def model(messages: list[Any], _info: Any) -> ModelResponse:
        returned = [
            part
            for message in messages
            for part in getattr(message, "parts", [])
            if isinstance(part, ToolReturnPart)
        ]
        if not returned:
            return ModelResponse(parts=[ToolCallPart("plan_and_run", {"goal": GOAL})])
        if returned[-1].tool_name == "plan_and_run":
            run_id = returned[-1].content["run_id"]
            return ModelResponse(parts=[ToolCallPart("get_run", {"run_id": run_id})])
        return ModelResponse(parts=[TextPart(json.dumps(returned[-1].content))])

    result = asyncio.run(Agent(FunctionModel(model), tools=as_tools(toolset)).run(GOAL))
    seen = json.loads(result.output)
    assert seen["status"] == "queued" and seen["agent_id"] == "calc"
    assert finish(engine, seen["run_id"]) == 3


def test_langchain_fake_chat_model_emits_a_tool_call_that_runs(engine, toolset):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from agentflow.integrations.langchain import as_tools

    call = {"name": "plan_and_run", "args": {"goal": GOAL, "params": {"a": 5}}, "id": "c1"}
    model = GenericFakeChatModel(messages=iter([AIMessage(content="", tool_calls=[call])]))
    tools = {tool.name: tool for tool in as_tools(toolset)}
    asked = model.invoke([HumanMessage(GOAL)])
    answer = tools[asked.tool_calls[0]["name"]].invoke(asked.tool_calls[0])
    assert isinstance(answer, ToolMessage) and answer.tool_call_id == "c1"
    assert finish(engine, json.loads(answer.content)["run_id"]) == 7


def test_openai_agents_sdk_offline_model_calls_the_function_tool(engine, toolset):
    from agents import Agent, ModelResponse, RunConfig, Runner, Usage
    from agents.models.interface import Model
    from openai.types.responses import (
        ResponseFunctionToolCall,
        ResponseOutputMessage,
        ResponseOutputText,
    )

    from agentflow.integrations.openai_agents import as_tools

    class OfflineModel(Model):
        async def get_response(self, system_instructions, input, *args, **kwargs):
            outputs = [
                item["output"]
                for item in (input if isinstance(input, list) else [])
                if isinstance(item, dict) and item.get("type") == "function_call_output"
            ]
            if outputs:
                text = ResponseOutputText(annotations=[], text=str(outputs[-1]), type="output_text")
                message = ResponseOutputMessage(
                    id="m1", content=[text], role="assistant", status="completed", type="message"
                )
                return ModelResponse(output=[message], usage=Usage(), response_id=None)
            call = ResponseFunctionToolCall(
                arguments=json.dumps({"goal": GOAL}),
                call_id="call_1",
                name="plan_and_run",
                type="function_call",
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)

        def stream_response(self, *args, **kwargs):
            raise NotImplementedError("this offline model does not stream")

    assistant = Agent(name="ops", model=OfflineModel(), tools=as_tools(toolset))
    result = asyncio.run(Runner.run(assistant, GOAL, run_config=RunConfig(tracing_disabled=True)))
    started = json.loads(result.final_output)
    assert started["status"] == "started"
    assert finish(engine, started["run_id"]) == 3
