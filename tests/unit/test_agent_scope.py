"""An agent's handles reach only that agent's runs; errors never reveal other agents' runs."""

from __future__ import annotations

import pytest

from agentflow import NotFound, Run

WAITS = """
def run(event, step):
    answer = step.wait_for_event("go", type="go", timeout="1 hour")
    return answer.payload
"""


def two_agents(engine):
    a = engine.agent("alpha", review="auto")
    b = engine.agent("beta", review="auto")
    a.submit_plan(WAITS)
    b.submit_plan(WAITS)
    return a, b


def test_another_agents_run_is_not_found_exactly_like_a_missing_one(engine):
    a, b = two_agents(engine)
    secret = a.start(run_id="alpha-secret")
    with pytest.raises(NotFound) as foreign:
        b.get_run(secret.id)
    with pytest.raises(NotFound) as missing:
        b.get_run("never-started")
    assert str(foreign.value) == "agent 'beta' has no run 'alpha-secret'"
    assert str(missing.value) == "agent 'beta' has no run 'never-started'"
    assert str(foreign.value).replace("alpha-secret", "X") == str(missing.value).replace(
        "never-started", "X"
    )
    assert b.runs() == [] and a.runs() == [secret]


@pytest.mark.parametrize(
    "action",
    [
        lambda run: run.status(),
        lambda run: run.send_event("go", "stolen"),
        lambda run: run.result(timeout=0.2),
        lambda run: run.pause(),
        lambda run: run.resume(),
        lambda run: run.terminate(),
        lambda run: run.restart(),
    ],
    ids=["status", "send_event", "result", "pause", "resume", "terminate", "restart"],
)
def test_a_handle_bound_to_one_agent_cannot_touch_another_agents_run(engine, action):
    a, b = two_agents(engine)
    victim = a.start(run_id="alpha-run")
    engine.work()
    assert victim.status().status == "waiting"

    aimed = Run(engine, victim.id, b.id, key=victim.key, bound=True)
    with pytest.raises(NotFound, match=r"^agent 'beta' has no run 'alpha-run'$"):
        action(aimed)

    status = victim.status()
    assert status.status == "waiting" and status.waiting_for == "go"
    victim.send_event("go", "mine")
    assert victim.result(timeout=10) == "mine"


def test_handles_from_an_agent_are_bound_to_it_and_work_on_its_own_runs(engine):
    a, _b = two_agents(engine)
    started = a.start(run_id="own")
    for handle in (started, a.get_run("own"), a.runs()[0]):
        assert handle == started and handle.agent_id == "alpha"
    a.get_run("own").pause()
    assert started.status().status == "paused"
    a.runs()[0].resume()
    engine.work()
    a.get_run("own").send_event("go", 7)
    assert started.result(timeout=10) == 7


def test_the_engine_is_the_operators_view_of_every_agent(engine):
    a, b = two_agents(engine)
    run_a = a.start(run_id="from-alpha")
    run_b = b.start(run_id="from-beta")
    assert engine.get_run("from-alpha").agent_id == "alpha"
    assert {r.id for r in engine.runs()} == {run_a.id, run_b.id}
