"""`engine.agent(id)` never changes an existing agent; `agent.update` does, and records it."""

from __future__ import annotations

import pytest

from agentflow import AgentChange, ConfigurationError, NotFound, PlanValidationError, ToolNotAllowed
from tests.support.host import make_engine

USES_ORDERS = 'def run(event, step):\n    return step.do("o", tools.list_orders)\n'


def test_a_new_agent_without_tools_gets_none_and_required_review(engine):
    agent = engine.agent("fresh")
    assert agent.tools == [] and agent.review == "required" and agent.model is None
    with pytest.raises(PlanValidationError, match="unknown tool 'list_orders'"):
        agent.submit_plan(USES_ORDERS)
    stored = engine.store.get_agent("fresh")
    assert stored.tools == [] and stored.review_policy == "required"


def test_a_new_agent_gets_the_tools_policy_and_model_given(engine):
    agent = engine.agent("shop", tools=["list_orders"], review="auto", model="gpt-4o-mini")
    assert (agent.tools, agent.review, agent.model) == (["list_orders"], "auto", "gpt-4o-mini")
    assert agent.submit_plan(USES_ORDERS).status == "approved"


def test_opening_an_existing_agent_by_id_returns_it_unchanged(engine):
    engine.agent("shop", tools=["list_orders", "refund"], review="auto", model="m1")
    again = engine.agent("shop")
    assert (again.tools, again.review, again.model) == (["list_orders", "refund"], "auto", "m1")
    stored = engine.store.get_agent("shop")
    assert stored.tools == ["list_orders", "refund"] and stored.review_policy == "auto"


def test_repeating_the_same_values_is_fine(engine):
    engine.agent("shop", tools=["list_orders", "refund"], review="auto")
    same = engine.agent("shop", tools=["refund", "list_orders"], review="auto")
    assert set(same.tools) == {"list_orders", "refund"}
    assert same.changes() == []


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"tools": ["list_orders", "send_email"]}, "tool list"),
        ({"review": "auto"}, "review policy"),
        ({"model": "gpt-4o"}, "model"),
    ],
)
def test_different_values_for_an_existing_agent_are_refused_and_change_nothing(
    engine, given, named
):
    engine.agent("shop", tools=["list_orders"], review="required", model="gpt-4o-mini")
    with pytest.raises(ConfigurationError) as caught:
        engine.agent("shop", **given)
    message = str(caught.value)
    assert f"already exists with a different {named}" in message
    assert "engine.get_agent('shop').update(" in message and "changed_by=" in message
    stored = engine.store.get_agent("shop")
    assert stored.tools == ["list_orders"] and stored.review_policy == "required"
    assert stored.model == "gpt-4o-mini"


def test_update_changes_only_what_differs_and_records_who_and_when(engine):
    agent = engine.agent("shop", tools=["list_orders"], review="required")
    change = agent.update(tools=["list_orders", "refund"], review="auto", changed_by="dana")

    assert isinstance(change, AgentChange)
    assert change.changed_by == "dana" and change.agent_id == "shop"
    assert change.before == {"tools": ["list_orders"], "review_policy": "required"}
    assert change.after == {"tools": ["list_orders", "refund"], "review_policy": "auto"}
    assert agent.tools == ["list_orders", "refund"] and agent.review == "auto"
    stored = engine.store.get_agent("shop")
    assert stored.updated_by == "dana" and stored.updated_at >= stored.created_at
    assert stored.tools == ["list_orders", "refund"] and stored.review_policy == "auto"
    assert engine.agent("shop").tools == ["list_orders", "refund"]

    assert agent.update(review="auto", changed_by="eve") is None
    agent.update(model="gpt-4o", changed_by="eve")
    agent.update(model=None, changed_by="eve")
    history = engine.get_agent("shop").changes()
    assert [(c.changed_by, c.after) for c in history] == [
        ("dana", {"tools": ["list_orders", "refund"], "review_policy": "auto"}),
        ("eve", {"model": "gpt-4o"}),
        ("eve", {"model": None}),
    ]
    assert history[0].created_at <= history[1].created_at <= history[2].created_at


def test_update_validates_before_writing(engine):
    agent = engine.agent("shop", tools=["list_orders"])
    with pytest.raises(ValueError, match="changed_by"):
        agent.update(tools=["refund"], changed_by=" ")
    with pytest.raises(ToolNotAllowed, match="'nope', which is not registered"):
        agent.update(tools=["nope"], changed_by="dana")
    with pytest.raises(ConfigurationError, match="review policy 'sometimes'"):
        agent.update(review="sometimes", changed_by="dana")
    assert engine.store.get_agent("shop").tools == ["list_orders"]
    assert agent.changes() == []


def test_another_process_sees_the_agent_it_did_not_create_unchanged(db_url, ledger):
    host = make_engine(db_url)
    other = make_engine(db_url)
    try:
        host.agent("shop", tools=["list_orders"], review="auto")
        seen = other.agent("shop")
        assert seen.tools == ["list_orders"] and seen.review == "auto"
        with pytest.raises(NotFound):
            other.get_agent("nobody")
    finally:
        host.close()
        other.close()
