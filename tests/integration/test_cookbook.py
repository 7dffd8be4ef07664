"""Every cookbook recipe compiles, and runs to completion on a real SQLite file."""

from __future__ import annotations

import time

import pytest
from agentflow.cookbook import RECIPES
from agentflow.cookbook.shop import register_shop_tools

from agentflow import Engine


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_runs_end_to_end(name, tmp_path):
    recipe = RECIPES[name]
    outbox: list[dict] = []
    engine = Engine(f"sqlite:///{tmp_path / 'cookbook.db'}", poll_interval=0.05)
    register_shop_tools(engine, outbox)
    agent = engine.agent(f"cook-{name}", tools=list(recipe.tools), review="required")
    plan = agent.submit_plan(recipe.source, goal=recipe.goal)
    assert plan.status == "pending"
    assert plan.summary["steps"], "the summary lists the steps"
    engine.reviews.approve(plan.id, reviewer="test")
    run = agent.start(params=recipe.params)
    events = list(recipe.events)
    deadline = time.monotonic() + 30
    while not run.status().done and time.monotonic() < deadline:
        engine.work()
        status = run.status()
        if status.status == "waiting" and events:
            run.send_event(*events.pop(0))
        time.sleep(0.02)
    status = run.status()
    assert status.status == "complete", status.error
    assert not events, "every event the recipe expects was consumed"
    if "send_email" in recipe.tools:
        assert outbox
    engine.close()


def test_order_followup_output(tmp_path):
    recipe = RECIPES["order_followup"]
    engine = Engine(f"sqlite:///{tmp_path / 'c.db'}")
    register_shop_tools(engine)
    agent = engine.agent("shop", tools=list(recipe.tools), review="auto")
    agent.submit_plan(recipe.source)
    run = agent.start(params={"grace": 0.05})
    engine.work()
    run.send_event("refund-approval", {"approved": True})
    assert run.result(timeout=10) == {
        "reminded": 2,
        "refunded": {"order_id": 1001, "refunded": 42.0},
    }
    engine.close()
