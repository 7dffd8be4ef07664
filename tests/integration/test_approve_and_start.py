"""Approving a plan and starting the run queued for it are one transaction: a process killed
right after the decision, or in the middle of it, never leaves an approved plan whose run never
starts."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from agentflow import plan_and_run
from agentflow.testing import ScriptedModel
from tests.conftest import ROOT
from tests.support.host import make_engine

pytestmark = pytest.mark.slow

PLAN = 'def run(event, step):\n    return step.do("echo", tools.echo, event.params["n"])\n'

# Approve in a fresh process that SIGKILLs itself at `point`: "after" the store's decision
# returned, or "inside" it, once the queued run is written but before the transaction commits.
APPROVER = """
import os, signal, sys
from agentflow import Engine
from agentflow.store import Store

url, plan_id, point = sys.argv[1], int(sys.argv[2]), sys.argv[3]
decide, start = Store.decide_plan, Store._start_queued_on_approval

def decide_then_die(self, *args, **kwargs):
    decided = decide(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
    return decided

def start_then_die(self, *args, **kwargs):
    start(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)

if point == "after":
    Store.decide_plan = decide_then_die
else:
    Store._start_queued_on_approval = start_then_die
Engine(url, isolation="inline").reviews.approve(plan_id, reviewer="dana")
"""


def _approve_and_die(url: str, plan_id: int, point: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(APPROVER), url, str(plan_id), point],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr


@pytest.mark.parametrize("point", ["after", "inside"])
def test_a_kill_around_approval_never_strands_the_queued_run(db_url, ledger, point):
    engine = make_engine(db_url)
    agent = engine.agent("gated", tools=["echo"], review="required")
    model = ScriptedModel([f"```python\n{PLAN}```"])
    queued = plan_and_run("Echo a number", agent, {"n": 7}, engine=engine, model=model)
    assert queued.status == "awaiting_review"

    _approve_and_die(engine.url, queued.plan.id, point)

    plan = engine.get_plan(queued.plan.id)
    if point == "inside":
        # The kill rolled the decision back with the run: the plan is still pending, no run
        # exists, and a second approval starts the run.
        assert plan.status == "pending"
        assert agent.runs() == []
        engine.reviews.approve(plan.id, reviewer="dana")
    else:
        assert plan.status == "approved"
    run = agent.get_run(queued.run_id)
    engine.work(until_idle=True)
    assert run.result(timeout=30) == 7
    assert [r.id for r in agent.runs()] == [queued.run_id]
    assert engine.store.get_plan(plan.id).start_on_approval is None
    engine.close()


HIGH = """
def run(event, step):
    for order in step.do("orders", tools.list_orders):
        step.do("refund", tools.refund, order_id=order["id"])
    return event.params["n"]
"""


@pytest.mark.parametrize("point", ["after", "inside"])
def test_under_the_two_person_rule_the_last_approval_and_the_start_are_one_transaction(
    db_url, ledger, point
):
    engine = make_engine(db_url)
    agent = engine.agent(
        "strict", tools=["list_orders", "refund"], review="required", approvals={"high": 2}
    )
    model = ScriptedModel([f"```python\n{HIGH}```"])
    queued = plan_and_run("Refund open orders", agent, {"n": 3}, engine=engine, model=model)
    assert engine.reviews.approve(queued.plan.id, reviewer="lee").status == "pending"

    _approve_and_die(engine.url, queued.plan.id, point)  # dana's approval, the second

    plan = engine.get_plan(queued.plan.id)
    if point == "inside":
        # rolled back together: still one approval, no run; dana may approve again
        assert (plan.status, plan.approvals_given) == ("pending", 1)
        assert agent.runs() == []
        assert [d["reviewer"] for d in engine.reviews.decisions(plan.id)] == ["lee"]
        engine.reviews.approve(plan.id, reviewer="dana")
    else:
        assert (plan.status, plan.approvals_given) == ("approved", 2)
    run = agent.get_run(queued.run_id)
    engine.work(until_idle=True)
    assert run.result(timeout=30) == 3
    assert [d["reviewer"] for d in engine.reviews.decisions(plan.id)] == ["lee", "dana"]
    engine.close()
