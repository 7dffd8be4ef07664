"""Waking at the deadline: a sleeping run is claimed up to WAKE_LEAD early and resumes on time.

The lead is widened here (from 5 ms to seconds) so the tests can tell an early claim from a
late one without depending on the machine's speed. Each test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from agentflow.models import PlanState, RunState
from agentflow.runtime import step_api
from agentflow.store import NewPlanVersion, Settlement, Store, leases
from tests.support.host import make_engine

LEAD = 2.0


@pytest.fixture
def wide_lead(monkeypatch: pytest.MonkeyPatch) -> None:
    # Read when a store builds its claim statements, and by the step API at each sleep.
    monkeypatch.setattr(leases, "WAKE_LEAD", LEAD)
    monkeypatch.setattr(step_api, "WAKE_LEAD", LEAD)


@pytest.fixture
def store(db_url: str, wide_lead: None) -> Iterator[Store]:
    opened = Store(db_url)
    yield opened
    opened.close()


def suspended_run(store: Store, name: str, status: RunState, wake_in: float) -> str:
    """A run of a fresh agent, settled `status` with its wake-up `wake_in` seconds away."""
    store.create_agent(name, [], "auto", None)
    plan = store.add_plan_version(NewPlanVersion(agent_id=name, sha256="0" * 64, source="…"))
    store.decide_plan(plan.id or 0, PlanState.APPROVED, "dana", None)
    row, _ = store.create_run(f"{name}-run", name, plan.id or 0, {})
    (claimed,) = store.claim_due_runs("worker-a", lease_seconds=60)
    waiting_for = "go" if status == RunState.WAITING else None
    settled = Settlement(status, wake_at=time.time() + wake_in, waiting_for=waiting_for)
    store.settle(claimed.id, "worker-a", settled)
    return row.id


def test_only_sleeping_runs_are_claimed_before_they_are_due(store: Store) -> None:
    asleep = suspended_run(store, "asleep", RunState.SLEEPING, LEAD / 2)
    suspended_run(store, "waiting", RunState.WAITING, LEAD / 2)  # its timeout is not a sleep
    suspended_run(store, "later", RunState.SLEEPING, LEAD * 5)

    claimed = store.claim_due_runs("worker-b", lease_seconds=60, limit=8)

    assert [row.id for row in claimed] == [asleep]


def test_a_run_claimed_early_resumes_at_its_time_in_the_same_activation(
    db_url: str, wide_lead: None
) -> None:
    engine = make_engine(db_url, isolation="inline")
    try:
        agent = engine.agent("napper", review="auto")
        agent.submit_plan('def run(event, step):\n    step.sleep("nap", 3)\n    return "up"\n')
        run = agent.start()
        engine.work()
        assert run.status().status == "sleeping"
        wake_at = run.status().steps[0].wake_at
        assert wake_at is not None
        time.sleep(max(0.0, wake_at.timestamp() - time.time() - LEAD / 2))

        engine.work()  # due within the lead: claimed now, the nap waits out the rest

        status = run.status()
        assert status.status == "complete"
        assert status.output == "up"
        nap = status.steps[0]
        assert nap.ended_at is not None and nap.ended_at >= wake_at
        assert [entry.kind for entry in run.history()].count("woken") == 1
    finally:
        engine.close()
