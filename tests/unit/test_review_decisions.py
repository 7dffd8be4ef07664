"""Review decisions are final and race-free, and a plan that is not approved never runs."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import update

from agentflow import RunFailed, RunStateError
from agentflow.store import LeaseLost
from agentflow.store.tables import RUNS, StepWrite
from tests.support.host import make_engine

PLAN = """
def run(event, step):
    step.sleep("nap", 0)
    return step.do("orders", tools.list_orders)
"""


def lease_elsewhere(engine, key: str) -> None:
    """Mark a run as running under another worker's live lease, as a claim would leave it."""
    with engine.store.engine.begin() as conn:
        conn.execute(
            update(RUNS)
            .where(RUNS.c.id == key)
            .values(status="running", lease_owner="elsewhere", lease_expires_at=9e12)
        )


def pending_plan(engine, name: str = "acme"):
    agent = engine.agent(name, tools=["list_orders"], review="required")
    return agent, agent.submit_plan(PLAN, goal="test")


def queue_run(engine, agent, plan, run_id: str) -> str:
    """A run pinned to `plan` queued straight in the store, as a racing approval would leave it."""
    row, created = engine.store.create_run(run_id, agent.id, plan.id, {})
    assert created
    return row.id


def test_the_worker_never_claims_a_run_whose_plan_is_not_approved(engine):
    agent, plan = pending_plan(engine)
    queue_run(engine, agent, plan, "early")
    assert engine.store.claim_due_runs(engine.owner, 5.0, limit=10) == []
    assert engine.store.claim_run("early", engine.owner, 5.0) is None
    assert engine.store.next_wake_at() is None
    assert engine.work() == 0
    assert agent.get_run("early").status().status == "queued"

    engine.reviews.approve(plan.id, reviewer="dana")
    assert agent.get_run("early").result(timeout=10) == [
        {"id": 1, "email": "ada@example.com", "status": "open"},
        {"id": 2, "email": "bob@example.com", "status": "open"},
    ]


def test_a_plan_whose_status_changes_under_a_queued_run_stops_it_being_claimed(engine):
    agent = engine.agent("acme", tools=["list_orders"], review="auto")
    plan = agent.submit_plan(PLAN, goal="test")
    run = agent.start(run_id="pinned")
    engine.store.update_plan(plan.id, status="rejected")
    assert engine.work() == 0
    assert run.status().status == "queued"


def test_rejecting_a_plan_settles_its_unfinished_runs_as_errored(engine):
    agent, plan = pending_plan(engine)
    queued = queue_run(engine, agent, plan, "queued-one")
    leased = queue_run(engine, agent, plan, "leased-one")
    lease_elsewhere(engine, leased)

    engine.reviews.reject(plan.id, reviewer="dana", comment="refunds need a limit")

    for run_id in (queued, leased):
        status = agent.get_run(run_id).status()
        assert status.status == "errored"
        assert status.error == {
            "type": "PlanRejected",
            "message": "plan version 1 was rejected by dana: refunds need a limit",
        }
    with pytest.raises(RunFailed, match="plan version 1 was rejected by dana"):
        agent.get_run(queued).result(timeout=5)
    # the worker that held the lease loses it at its next checkpoint
    record = StepWrite(leased, seq=0, key="nap#0", name="nap", occurrence=0, kind="sleep", new=True)
    with pytest.raises(LeaseLost):
        engine.store.save_step("elsewhere", record)


def test_a_decision_is_final(engine):
    _agent, plan = pending_plan(engine)
    engine.reviews.approve(plan.id, reviewer="dana")
    with pytest.raises(RunStateError, match="already approved by dana"):
        engine.reviews.reject(plan.id, reviewer="eve")
    with pytest.raises(RunStateError, match="already approved by dana"):
        engine.reviews.approve(plan.id, reviewer="eve")
    assert [d["reviewer"] for d in engine.reviews.decisions(plan.id)] == ["dana"]
    assert engine.get_plan(plan.id).status == "approved"


def decide_at_once(engine, decision, reviewer, plan_id, barrier, outcomes) -> None:
    act = engine.reviews.approve if decision == "approve" else engine.reviews.reject
    barrier.wait()
    try:
        outcomes[reviewer] = act(plan_id, reviewer=reviewer).status
    except RunStateError as exc:
        outcomes[reviewer] = exc


def test_of_two_reviewers_deciding_at_once_exactly_one_wins(db_url, ledger):
    engines = [make_engine(db_url), make_engine(db_url)]
    try:
        agent = engines[0].agent("acme", tools=["list_orders"], review="required")
        plans = [agent.submit_plan(PLAN, goal=f"goal {n}") for n in range(4)]
        for plan in plans:
            barrier = threading.Barrier(2)
            outcomes: dict[str, object] = {}
            threads = [
                threading.Thread(
                    target=decide_at_once,
                    args=(engine, decision, reviewer, plan.id, barrier, outcomes),
                )
                for engine, decision, reviewer in (
                    (engines[0], "approve", "dana"),
                    (engines[1], "reject", "eve"),
                )
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)

            won = {who: status for who, status in outcomes.items() if isinstance(status, str)}
            lost = [exc for exc in outcomes.values() if isinstance(exc, RunStateError)]
            assert len(won) == 1 and len(lost) == 1, outcomes
            ((winner, status),) = won.items()
            assert "is already" in str(lost[0]) and f"by {winner}" in str(lost[0])
            stored = engines[0].get_plan(plan.id)
            assert stored.status == status and stored.decided_by == winner
            assert [d["reviewer"] for d in engines[0].reviews.decisions(plan.id)] == [winner]
    finally:
        for engine in engines:
            engine.close()
