"""The two-person rule: `approvals={"high": 2}` asks distinct reviewers for a high-risk plan."""

from __future__ import annotations

import threading

import pytest

from agentflow import ConfigurationError, DuplicateApproval, PlanAlreadyDecided, plan_and_run
from agentflow.testing import ScriptedModel
from tests.support import split_payment
from tests.support.host import make_engine

# A side-effecting tool in a loop: the summary grades it "high".
HIGH = """
def run(event, step):
    orders = step.do("orders", tools.list_orders)
    for order in orders:
        step.do("refund", tools.refund, order_id=order["id"])
    return len(orders)
"""
LOW = 'def run(event, step):\n    return step.do("orders", tools.list_orders)\n'


def queued_high_plan(engine, **agent):
    shop = engine.agent("shop", tools=["list_orders", "refund"], review="required", **agent)
    model = ScriptedModel([f"```python\n{HIGH}```"])
    queued = plan_and_run("Refund every open order", shop, {}, engine=engine, model=model)
    assert queued.status == "awaiting_review"
    assert queued.plan.summary.risk == "high"
    return shop, queued


def test_a_high_risk_plan_needs_two_distinct_reviewers_before_its_queued_run_starts(engine):
    shop, queued = queued_high_plan(engine, approvals={"high": 2})
    assert (queued.plan.approvals_given, queued.plan.approvals_required) == (0, 2)

    first = engine.reviews.approve(queued.plan.id, reviewer="dana", comment="looks right")
    assert first.status == "pending"
    assert first.approvals_text == "1 of 2 approvals"
    assert shop.runs() == []  # one approval starts nothing
    assert engine.work(until_idle=True) == 0

    with pytest.raises(DuplicateApproval) as refused:
        engine.reviews.approve(queued.plan.id, reviewer="dana", comment="again")
    assert "dana" in str(refused.value) and "1 of 2 approvals" in str(refused.value)
    assert engine.get_plan(queued.plan.id).approvals_given == 1  # nothing recorded
    assert shop.runs() == []

    second = engine.reviews.approve(queued.plan.id, reviewer="lee", comment="agreed")
    assert second.status == "approved" and second.decided_by == "lee"
    assert second.approvals_text == "2 of 2 approvals"
    run = shop.get_run(queued.run_id)
    engine.work(until_idle=True)
    assert run.result(timeout=10) == 2

    decisions = engine.reviews.decisions(queued.plan.id)
    assert [(d["reviewer"], d["decision"], d["comment"]) for d in decisions] == [
        ("dana", "approved", "looks right"),
        ("lee", "approved", "agreed"),
    ]
    assert all(d["created_at"] > 0 for d in decisions)
    with pytest.raises(PlanAlreadyDecided):
        engine.reviews.approve(queued.plan.id, reviewer="kim")


def test_a_rejection_by_anyone_ends_a_partly_approved_plan(engine):
    shop, queued = queued_high_plan(engine, approvals={"high": 2})
    engine.reviews.approve(queued.plan.id, reviewer="dana")
    rejected = engine.reviews.reject(queued.plan.id, reviewer="lee", comment="no refunds today")
    assert rejected.status == "rejected" and rejected.approvals_given == 1
    assert shop.runs() == []
    with pytest.raises(PlanAlreadyDecided):
        engine.reviews.approve(queued.plan.id, reviewer="kim")


def test_a_plan_of_another_risk_needs_one_approval(engine):
    shop = engine.agent("shop", tools=["list_orders"], review="required", approvals={"high": 2})
    plan = shop.submit_plan(LOW, goal="list")
    assert plan.approvals_required == 1
    assert engine.reviews.approve(plan.id, reviewer="dana").status == "approved"


def test_changing_approvals_is_recorded_and_pending_plans_follow_it(engine):
    shop, queued = queued_high_plan(engine)
    assert queued.plan.approvals_required == 1
    change = shop.update(approvals={"high": 3}, changed_by="ops")
    assert change is not None
    assert change.before == {"approvals": {}} and change.after == {"approvals": {"high": 3}}
    assert shop.approvals == {"high": 3}
    assert engine.get_plan(queued.plan.id).approvals_required == 3
    assert engine.get_agent("shop").approvals == {"high": 3}
    assert shop.update(approvals={"high": 3}, changed_by="ops") is None
    for reviewer in ("a", "b"):
        assert engine.reviews.approve(queued.plan.id, reviewer=reviewer).status == "pending"
    assert engine.reviews.approve(queued.plan.id, reviewer="c").status == "approved"


def test_the_rule_holds_even_where_the_policy_would_approve_by_itself(engine):
    shop = engine.agent(
        "auto-shop", tools=["list_orders", "refund"], review="auto", approvals={"high": 2}
    )
    assert shop.submit_plan(HIGH, goal="refund").status == "pending"
    assert shop.submit_plan(LOW, goal="list").status == "approved"

    model = ScriptedModel([f"```python\n{HIGH}```"])
    queued = plan_and_run("Refund every open order", shop, {}, engine=engine, model=model)
    assert queued.status == "awaiting_review" and queued.run is None
    engine.reviews.approve(queued.plan.id, reviewer="dana")
    engine.reviews.approve(queued.plan.id, reviewer="lee")
    engine.work(until_idle=True)
    assert shop.get_run(queued.run_id).result(timeout=10) == 2


def test_reviewers_approving_at_once_are_counted_once_each(db_url):
    engine = make_engine(db_url)
    try:
        for attempt in range(3):
            shop = engine.agent(
                f"shop-{attempt}", tools=["list_orders", "refund"], approvals={"high": 2}
            )
            plan = shop.submit_plan(HIGH, goal="refund")
            reviewers = ["dana", "lee"] if attempt < 2 else ["dana", "dana"]
            outcomes: list[object] = []

            def approve(
                name: str, plan_id: int = plan.id, outcomes: list[object] = outcomes
            ) -> None:
                try:
                    outcomes.append(engine.reviews.approve(plan_id, reviewer=name).status)
                except DuplicateApproval as refused:
                    outcomes.append(refused)

            threads = [threading.Thread(target=approve, args=(n,)) for n in reviewers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            stored = engine.get_plan(plan.id)
            decisions = engine.reviews.decisions(plan.id)
            if reviewers[0] != reviewers[1]:
                assert sorted(map(str, outcomes)) == ["approved", "pending"]
                assert stored.status == "approved" and len(decisions) == 2
            else:
                assert sum(isinstance(o, DuplicateApproval) for o in outcomes) == 1
                assert stored.status == "pending" and stored.approvals_given == 1
                assert len(decisions) == 1
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("approvals", "words"),
    [
        ({"critical": 2}, "'critical', which is not a risk level"),
        ({"high": 0}, "approvals['high'] is 0: it must be an integer of at least 1"),
        ({"high": "2"}, "approvals['high'] is '2'"),
        ({"high": True}, "approvals['high'] is True"),
        (["high"], "approvals must map risk levels to counts"),
    ],
)
def test_malformed_approvals_are_refused_with_what_was_wrong(engine, approvals, words):
    with pytest.raises(ConfigurationError) as refused:
        engine.agent("strict", approvals=approvals)
    assert words in str(refused.value)
    assert engine.store.get_agent("strict") is None  # nothing stored
    shop = engine.agent("strict2")
    with pytest.raises(ConfigurationError):
        shop.update(approvals=approvals, changed_by="ops")
    assert engine.get_agent("strict2").approvals == {}


def test_an_existing_agent_with_other_approvals_is_not_changed_by_engine_agent(engine):
    engine.agent("shop", approvals={"high": 2})
    with pytest.raises(ConfigurationError, match="approvals"):
        engine.agent("shop", approvals={"high": 3})
    assert engine.agent("shop").approvals == {"high": 2}


def test_a_repair_that_loops_a_payment_needs_two_reviewers_before_the_run_goes_on(db_url):
    engine = split_payment.build_engine(db_url)
    split_payment.PAID.clear()
    run, repaired = split_payment.refused_and_repaired(
        engine, review="required", approvals={"high": 2}
    )
    assert run.status().status == "errored"
    assert repaired.summary.risk == "high" and repaired.status == "pending"
    engine.reviews.approve(repaired.id, reviewer="dana")
    engine.work(until_idle=True)
    assert run.status().status == "errored"  # not restarted on one approval
    engine.reviews.approve(repaired.id, reviewer="lee")
    assert run.result(timeout=20)["paid"][0] == {"invoice": "INV-7", "amount": 100}
    assert [p["amount"] for p in split_payment.PAID] == [100] * 5
    engine.close()
