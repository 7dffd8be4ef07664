"""The litellm path, through real `litellm.completion` calls answered by `mock_response`.

These tests import litellm (seconds), so they live apart from the fast unit tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from agentflow.engine import Engine
from agentflow.errors import ModelUnavailable
from agentflow.planner import LiteLLMModel, plan, plan_and_run_async
from agentflow.planner.model import import_litellm
from agentflow.testing import temporary_engine

REPLY = (
    "Here is the plan.\n\n```python\n"
    '"""Count the open orders."""\n\n\n'
    "def run(event, step):\n"
    '    orders = step.do("fetch open orders", tools.list_orders, status="open")\n'
    '    return {"open": len(orders)}\n'
    "```\n"
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    with temporary_engine() as eng:

        @eng.tool(side_effects=False)
        def list_orders(status: str = "open") -> list[dict]:
            """Orders with the given status."""
            return [{"id": 1}, {"id": 2}]

        yield eng


@pytest.fixture
def litellm():
    return import_litellm()


def test_a_mocked_litellm_reply_becomes_a_stored_plan_with_its_usage_and_cost(
    engine: Engine, litellm
):
    engine.agent("counter", tools=engine.tools.names(), review="auto")
    version = plan(
        "Count the open orders",
        "counter",
        engine=engine,
        model="gpt-4o-mini",
        completion_kwargs={"mock_response": REPLY},
    )
    assert version.approved and version.origin == "planner"
    assert version.source.startswith('"""Count the open orders."""')
    assert version.model == "gpt-4o-mini"
    assert version.tokens is not None and version.tokens > 0
    assert version.cost is not None and version.cost > 0
    [attempt] = version.generation
    assert attempt["reply"] == REPLY
    assert attempt["model"].startswith("gpt-4o-mini")
    assert attempt["tokens_in"] > 0 and attempt["tokens_out"] > 0
    assert attempt["latency_ms"] >= 0


def test_the_async_twin_goes_through_litellm_acompletion(engine: Engine, litellm):
    engine.agent("counter", tools=engine.tools.names(), review="auto")
    result = asyncio.run(
        plan_and_run_async(
            "Count the open orders",
            "counter",
            engine=engine,
            model="gpt-4o-mini",
            completion_kwargs={"mock_response": REPLY},
            wait=True,
            timeout=30,
        )
    )
    assert result.status == "complete"
    assert result.output == {"open": 2}


def test_a_missing_api_key_names_the_variable_to_set_and_stores_nothing(
    engine: Engine, litellm, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelUnavailable, match=r"'gpt-4o-mini' needs OPENAI_API_KEY"):
        plan("Count the open orders", "newcomer", engine=engine, model="gpt-4o-mini")
    assert engine.store.get_agent("newcomer") is None
    assert engine.store.list_plans() == []


@pytest.mark.parametrize(
    "error",
    [
        lambda litellm: litellm.AuthenticationError("bad key", "openai", "gpt-4o-mini"),
        lambda litellm: litellm.NotFoundError("no such model", "gpt-4o-mini", "openai"),
        lambda litellm: litellm.APIConnectionError("refused", "openai", "gpt-4o-mini"),
    ],
    ids=["authentication", "not-found", "connection"],
)
def test_provider_errors_become_model_unavailable(litellm, error):
    model = LiteLLMModel("gpt-4o-mini", {"mock_response": error(litellm)})
    with pytest.raises(ModelUnavailable, match="'gpt-4o-mini' is unavailable") as caught:
        model.complete([{"role": "user", "content": "hi"}])
    assert "set OPENAI_API_KEY" in str(caught.value) or "check the model name" in str(caught.value)
    with pytest.raises(ModelUnavailable):
        asyncio.run(model.acomplete([{"role": "user", "content": "hi"}]))
