"""Run ids are unique per agent: two agents may use the same id, and neither takes the other's."""

from __future__ import annotations

import pytest

from agentflow import AmbiguousRunId, NotFound

ECHO = """
def run(event, step):
    answer = step.wait_for_event("go", type="go", timeout="1 hour")
    return [event.params["who"], answer.payload]
"""


def two_agents(engine):
    alpha = engine.agent("alpha", review="auto")
    beta = engine.agent("beta", review="auto")
    alpha.submit_plan(ECHO)
    beta.submit_plan(ECHO)
    return alpha, beta


def test_two_agents_using_the_same_run_id_get_two_distinct_runs(engine):
    alpha, beta = two_agents(engine)
    a = alpha.start({"who": "a"}, run_id="order-1")
    b = beta.start({"who": "b"}, run_id="order-1")
    assert a.id == b.id == "order-1"
    assert a != b and a.key != b.key
    engine.work()
    b.send_event("go", "for b")
    assert b.result(timeout=10) == ["b", "for b"]
    assert a.status().status == "waiting"
    a.send_event("go", "for a")
    assert a.result(timeout=10) == ["a", "for a"]
    assert a.status().id == "order-1" and a.status().agent_id == "alpha"


def test_the_same_run_id_on_the_same_agent_never_starts_two_runs(engine):
    alpha, beta = two_agents(engine)
    first = alpha.start({"who": "a"}, run_id="order-1")
    beta.start({"who": "b"}, run_id="order-1")
    again = alpha.start({"who": "someone else"}, run_id="order-1")
    assert again == first and again.key == first.key
    assert [r.id for r in alpha.runs()] == ["order-1"]
    assert again.status().params == {"who": "a"}


def test_a_run_id_another_agent_took_first_is_still_free_for_this_one(engine):
    alpha, beta = two_agents(engine)
    beta.start({"who": "b"}, run_id="invoice-7")
    mine = alpha.start({"who": "a"}, run_id="invoice-7")
    assert mine.agent_id == "alpha" and mine.status().params == {"who": "a"}
    assert alpha.get_run("invoice-7") == mine


def test_the_engine_asks_for_the_agent_when_a_run_id_is_ambiguous(engine):
    alpha, beta = two_agents(engine)
    a = alpha.start({"who": "a"}, run_id="order-1")
    b = beta.start({"who": "b"}, run_id="order-1")
    only = alpha.start({"who": "a"}, run_id="only-alpha")

    with pytest.raises(AmbiguousRunId) as caught:
        engine.get_run("order-1")
    assert caught.value.agent_ids == ["alpha", "beta"]
    assert "engine.get_run('order-1', agent='alpha')" in str(caught.value)
    assert engine.get_run("order-1", agent="alpha") == a
    assert engine.get_run("order-1", agent=beta) == b
    assert engine.get_run("only-alpha") == only
    assert engine.get_run(b.key) == b
    with pytest.raises(NotFound, match="agent 'beta' has no run 'only-alpha'"):
        engine.get_run("only-alpha", agent="beta")
    with pytest.raises(NotFound, match="no run with id 'nothing'"):
        engine.get_run("nothing")


def test_generated_run_ids_are_the_runs_keys(engine):
    alpha, _beta = two_agents(engine)
    run = alpha.start({"who": "a"})
    assert run.id.startswith("run_") and run.key == run.id
    assert engine.get_run(run.id) == run
