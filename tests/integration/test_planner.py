"""The planner against a real store: the repair loop, reuse, review policies, async, repair."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from agentflow.cookbook import RECIPES
from agentflow.cookbook.shop import register_shop_tools

from agentflow import PlanAndRunResult, plan_and_run, plan_and_run_async, plan_async, repair
from agentflow.engine import Engine
from agentflow.errors import (
    ConfigurationError,
    ModelUnavailable,
    NotFound,
    PlanningFailed,
    RunStateError,
)
from agentflow.planner import goal_key, plan
from agentflow.testing import ScriptedModel, temporary_engine
from tests.support.host import read_ledger

GOAL = "Count the open orders"


def fenced(source: str) -> str:
    return f"Here is the plan:\n\n```python\n{source}```\n"


SAFE = fenced(
    '"""Count the open orders."""\n\n\n'
    "def run(event, step):\n"
    '    orders = step.do("fetch open orders", tools.list_orders, status="open")\n'
    '    return {"open": len(orders)}\n'
)
UNSAFE = fenced(
    "def run(event, step):\n"
    '    orders = step.do("fetch open orders", tools.list_orders, status="open")\n'
    "    for order in orders:\n"
    '        step.do("remind", tools.send_email, to=order["email"], subject="hi", body="open")\n'
    '    return {"reminded": len(orders)}\n'
)
BROKEN = fenced(
    "import os\n\n\n"
    "def run(event, step):\n"
    '    return step.do("fetch open orders", tools.list_ordrs, status="open")\n'
)
FAILING = fenced(
    "def run(event, step):\n"
    '    orders = step.do("fetch open orders", tools.list_orders, status="open")\n'
    '    step.do("check refunds", tools.reject, reason="the refund desk is closed")\n'
    '    return {"orders": len(orders)}\n'
)
REPAIRED = fenced(
    "def run(event, step):\n"
    '    orders = step.do("fetch open orders", tools.list_orders, status="open")\n'
    '    noted = step.do("note the count", tools.echo, value=len(orders))\n'
    '    return {"orders": noted}\n'
)


def codes(diagnostics: list) -> set[str]:
    return {d["code"] if isinstance(d, dict) else d.code for d in diagnostics}


# --- the repair loop ---------------------------------------------------------------------------


def test_a_reply_that_breaks_the_rules_is_sent_back_and_the_fixed_plan_is_stored(engine: Engine):
    model = ScriptedModel([BROKEN, SAFE])
    version = plan(GOAL, "counter", engine=engine, model=model, tools=["list_orders"])

    assert version.status == "pending" and version.origin == "planner"
    assert version.source.startswith('"""Count the open orders."""')
    first, second = version.generation
    assert codes(first["diagnostics"]) == {"AF130", "AF150"}
    assert first["reply"] == BROKEN and second["reply"] == SAFE
    assert second["diagnostics"] == []
    assert version.tokens == sum(a["tokens_in"] + a["tokens_out"] for a in version.generation)
    assert version.cost == 0.0 and version.model == "scripted"
    assert version.prompt_hash == first["prompt_hash"] != second["prompt_hash"]

    feedback = model.prompts[1]
    assert [m["role"] for m in feedback] == ["system", "user", "assistant", "user"]
    assert feedback[2]["content"] == BROKEN
    assert "AF150" in feedback[3]["content"] and "list_ordrs" in feedback[3]["content"]

    row = engine.store.get_plan(version.id)
    assert row.goal == GOAL and row.goal_key == goal_key(GOAL)
    assert row.catalogue_hash is not None and engine.get_agent("counter").tools == ["list_orders"]


def test_a_model_that_never_gets_it_right_fails_with_every_diagnostic_and_stores_nothing(
    engine: Engine,
):
    model = ScriptedModel([BROKEN, BROKEN, BROKEN])
    with pytest.raises(PlanningFailed, match="no valid plan in 3 attempts") as caught:
        plan(GOAL, "newcomer", engine=engine, model=model, tools=["list_orders"])
    assert codes(caught.value.diagnostics) == {"AF130", "AF150"}
    assert "list_ordrs" in str(caught.value) and "'os'" in str(caught.value)
    assert model.calls == 3
    assert engine.store.get_agent("newcomer") is None
    assert engine.store.list_plans() == []


def test_max_attempts_bounds_the_conversation(engine: Engine):
    model = ScriptedModel([BROKEN, SAFE])
    with pytest.raises(PlanningFailed, match="in 1 attempt;"):
        plan(GOAL, "counter", engine=engine, model=model, max_attempts=1)
    assert model.calls == 1


# --- reuse -------------------------------------------------------------------------------------


def test_the_same_goal_and_tools_reuse_the_approved_plan_without_a_model_call(engine: Engine):
    engine.agent("counter", tools=["list_orders"], review="auto")
    first = plan(GOAL, "counter", engine=engine, model=ScriptedModel([SAFE]))
    assert first.approved and not first.reused

    silent = ScriptedModel([])
    again = plan("  count the OPEN orders. ", "counter", engine=engine, model=silent)
    assert again.reused and again.id == first.id and silent.calls == 0

    result = plan_and_run(GOAL, "counter", engine=engine, model=silent, wait=True, timeout=30)
    assert result.reused and result.status == "complete" and result.output == {"open": 2}
    assert "reused approved plan version 1" in result.message and silent.calls == 0

    fresh = plan(GOAL, "counter", engine=engine, model=ScriptedModel([SAFE]), reuse=False)
    assert fresh.version == 2 and not fresh.reused


def test_a_plan_is_not_reused_once_the_agents_tools_change(engine: Engine):
    engine.agent("counter", tools=["list_orders"], review="auto")
    plan(GOAL, "counter", engine=engine, model=ScriptedModel([SAFE]))
    agent = engine.get_agent("counter")
    agent.update(tools=["list_orders", "echo"], changed_by="dana")
    model = ScriptedModel([SAFE])
    version = plan(GOAL, agent, engine=engine, model=model)
    assert model.calls == 1 and version.version == 2 and not version.reused


def test_a_pending_plan_is_not_reused(engine: Engine):
    plan(GOAL, "counter", engine=engine, model=ScriptedModel([SAFE]), tools=["list_orders"])
    model = ScriptedModel([SAFE])
    assert plan(GOAL, "counter", engine=engine, model=model).version == 2
    assert model.calls == 1


# --- review policies ---------------------------------------------------------------------------


def test_under_required_review_the_run_waits_for_a_reviewer_then_starts_by_itself(
    engine: Engine,
):
    result = plan_and_run(
        GOAL,
        "counter",
        {"note": "x"},
        engine=engine,
        model=ScriptedModel([SAFE]),
        tools=["list_orders"],
        wait=True,
        run_id="count-1",
    )
    assert isinstance(result, PlanAndRunResult)
    assert (result.status, result.run, result.run_id) == ("awaiting_review", None, "count-1")
    assert "agentflow review approve" in result.message
    with pytest.raises(NotFound):
        engine.get_run("count-1")

    engine.reviews.approve(result.plan.id, reviewer="dana", comment="fine")
    assert engine.store.get_plan(result.plan.id).start_on_approval is None
    assert engine.work() >= 1
    status = engine.get_run("count-1").status()
    assert status.status == "complete" and status.output == {"open": 2}
    assert status.params == {"note": "x"} and status.plan_id == result.plan.id


def test_under_auto_review_the_run_starts_at_once_and_wait_drives_it(engine: Engine):
    engine.agent("mailer", tools=["list_orders", "send_email"], review="auto")
    result = plan_and_run(
        "Remind every customer",
        "mailer",
        engine=engine,
        model=ScriptedModel([UNSAFE]),
        wait=True,
        timeout=30,
    )
    assert result.status == "complete" and result.output == {"reminded": 2}
    assert result.plan.decided_by == "policy:auto"
    assert result.run is not None and result.run.status().status == "complete"
    assert engine.store.get_plan(result.plan.id).start_on_approval is None


def test_without_wait_an_approved_plans_run_is_queued_for_a_worker(engine: Engine):
    engine.agent("counter", tools=["list_orders"], review="auto")
    result = plan_and_run(GOAL, "counter", engine=engine, model=ScriptedModel([SAFE]))
    assert result.status == "started" and result.run is not None
    assert result.run.status().status == "queued"
    assert result.run.result(timeout=30) == {"open": 2}


def test_auto_if_safe_approves_a_read_only_plan(engine: Engine):
    engine.agent("reader", tools=["list_orders", "send_email"], review="auto-if-safe")
    result = plan_and_run(
        GOAL, "reader", engine=engine, model=ScriptedModel([SAFE]), wait=True, timeout=30
    )
    assert result.status == "complete" and result.plan.decided_by == "policy:auto-if-safe"


def test_auto_if_safe_sends_a_side_effecting_plan_to_review(engine: Engine):
    engine.agent("mailer", tools=["list_orders", "send_email"], review="auto-if-safe")
    result = plan_and_run(
        "Remind every customer", "mailer", engine=engine, model=ScriptedModel([UNSAFE])
    )
    assert result.status == "awaiting_review" and result.plan.status == "pending"
    engine.reviews.approve(result.plan.id, reviewer="dana")
    assert engine.get_run(result.run_id).result(timeout=30) == {"reminded": 2}


def test_a_failing_run_reports_errored_with_wait(engine: Engine):
    engine.agent("doomed", tools=["list_orders", "reject"], review="auto")
    result = plan_and_run(
        "Check refunds", "doomed", engine=engine, model=ScriptedModel([FAILING]), wait=True
    )
    assert result.status == "errored" and result.output is None
    assert "the refund desk is closed" in result.message


# --- agents ------------------------------------------------------------------------------------


def test_tools_that_differ_from_an_existing_agents_are_refused(engine: Engine):
    engine.agent("counter", tools=["list_orders"], review="auto")
    with pytest.raises(ConfigurationError, match="already exists with tools"):
        plan(GOAL, "counter", engine=engine, model=ScriptedModel([SAFE]), tools=["echo"])


def test_a_new_agent_gets_every_tool_and_required_review(engine: Engine):
    version = plan(GOAL, "fresh", engine=engine, model=ScriptedModel([SAFE]))
    agent = engine.get_agent("fresh")
    assert agent.review == "required" and agent.tools == engine.tools.names()
    assert version.status == "pending"


# --- async -------------------------------------------------------------------------------------


def test_the_async_twins_plan_repair_and_run(engine: Engine):
    engine.agent("counter", tools=["list_orders"], review="auto")

    async def main() -> tuple:
        version = await plan_async(
            GOAL, "counter", engine=engine, model=ScriptedModel([BROKEN, SAFE])
        )
        result = await plan_and_run_async(
            GOAL, "counter", engine=engine, model=ScriptedModel([]), wait=True, timeout=30
        )
        return version, result

    version, result = asyncio.run(main())
    assert version.approved and len(version.generation) == 2
    assert result.reused and result.plan.id == version.id
    assert result.status == "complete" and result.output == {"open": 2}


def test_the_async_twin_leaves_a_plan_awaiting_review(engine: Engine):
    result = asyncio.run(
        plan_and_run_async(
            GOAL, "counter", engine=engine, model=ScriptedModel([SAFE]), tools=["list_orders"]
        )
    )
    assert result.status == "awaiting_review" and result.run is None


# --- recorded replies ----------------------------------------------------------------------------


def test_without_a_model_the_recorded_reply_is_replayed_and_the_result_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.delenv("AGENTFLOW_MODEL", raising=False)
    recipe = RECIPES["research_digest"]
    with temporary_engine() as engine:
        register_shop_tools(engine)
        engine.agent("digest", tools=list(recipe.tools), review="auto")
        with caplog.at_level(logging.WARNING, logger="agentflow.planner"):
            result = plan_and_run(
                recipe.goal, "digest", recipe.params, engine=engine, wait=True, timeout=30
            )
        expected = (
            "no model configured (set AGENTFLOW_MODEL); "
            f"replayed the recorded reply for {recipe.goal!r}"
        )
        assert result.message.startswith(expected)
        assert expected in caplog.text
        assert result.status == "complete" and result.plan.model == "recorded"
        assert result.plan.source == recipe.source.rstrip() + "\n"
        assert result.output["topics"] == 2


def test_without_a_model_or_a_recording_the_error_names_the_variable_to_set(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("AGENTFLOW_MODEL", raising=False)
    with pytest.raises(ModelUnavailable, match="set AGENTFLOW_MODEL"):
        plan_and_run("Something nobody recorded", "counter", engine=engine)
    assert engine.store.list_plans() == []


# --- repair ------------------------------------------------------------------------------------


def failed_run(engine: Engine, review: str) -> str:
    engine.agent("refunds", tools=["list_orders", "reject", "echo"], review="auto")
    result = plan_and_run(
        "Check refunds", "refunds", engine=engine, model=ScriptedModel([FAILING]), wait=True
    )
    assert result.status == "errored"
    engine.get_agent("refunds").update(review=review, changed_by="dana")
    return result.run_id


def test_a_repaired_plan_approved_by_a_reviewer_continues_the_failed_run(
    engine: Engine, ledger: Path
):
    run_id = failed_run(engine, review="required")
    model = ScriptedModel([BROKEN, REPAIRED])
    version = repair(run_id, engine=engine, model=model)

    parent = engine.get_run(run_id).status().plan_id
    assert (version.origin, version.parent_id, version.status) == ("repair", parent, "pending")
    assert len(version.generation) == 2 and version.goal == "Check refunds"
    asked = model.prompts[0][1]["content"]
    assert "the refund desk is closed" in asked and "check refunds" in asked
    assert "fetch open orders (do): complete" in asked
    assert engine.get_run(run_id).status().status == "errored"

    engine.reviews.approve(version.id, reviewer="dana")
    assert engine.get_run(run_id).result(timeout=30) == {"orders": 2}
    assert engine.get_run(run_id).status().plan_id == version.id
    fetched = [e for e in read_ledger(ledger) if e["tool"] == "list_orders"]
    assert len(fetched) == 1, "the completed step's checkpoint was kept"


def test_a_repaired_plan_approved_by_policy_continues_the_run_at_once(engine: Engine, ledger: Path):
    run_id = failed_run(engine, review="auto")
    version = repair(run_id, engine=engine, model=ScriptedModel([REPAIRED]))
    assert version.approved
    assert engine.store.get_plan(version.id).start_on_approval is None
    assert engine.get_run(run_id).result(timeout=30) == {"orders": 2}
    assert len([e for e in read_ledger(ledger) if e["tool"] == "list_orders"]) == 1


def test_only_a_failed_run_can_be_repaired(engine: Engine):
    engine.agent("counter", tools=["list_orders"], review="auto")
    result = plan_and_run(GOAL, "counter", engine=engine, model=ScriptedModel([SAFE]), wait=True)
    model = ScriptedModel([SAFE])
    with pytest.raises(RunStateError, match="only an errored run can be repaired"):
        repair(result.run_id, engine=engine, model=model)
    assert model.calls == 0


def test_the_async_repair_continues_the_run(engine: Engine):
    from agentflow.planner import repair_async

    run_id = failed_run(engine, review="auto")
    version = asyncio.run(repair_async(run_id, engine=engine, model=ScriptedModel([REPAIRED])))
    assert version.approved and version.origin == "repair"
    assert engine.get_run(run_id).result(timeout=30) == {"orders": 2}


def test_without_an_engine_the_default_engine_follows_agentflow_database_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from agentflow.planner import default_engine, set_default_engine

    monkeypatch.setenv("AGENTFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'default.db'}")
    set_default_engine(None)
    try:
        engine = default_engine()
        assert engine is default_engine() and engine.url.endswith("default.db")

        @engine.tool(side_effects=False)
        def list_orders(status: str = "open") -> list[dict]:
            """Orders with the given status."""
            return [{"id": 1}]

        engine.agent("counter", tools=engine.tools.names(), review="auto")
        result = plan_and_run(GOAL, "counter", model=ScriptedModel([SAFE]), wait=True, timeout=30)
        assert result.output == {"open": 1}
        engine.close()
    finally:
        set_default_engine(None)
