"""Done when: restart, repair, pause and terminate each leave history entries with actor and
reason, and no earlier entry changes (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentflow import Engine, RunFailed
from agentflow.planner import repair
from agentflow.run import Run
from agentflow.testing import ScriptedModel
from tests.integration.test_planner import FAILING, REPAIRED

pytestmark = pytest.mark.slow


def stored(engine: Engine, run: Run) -> list[tuple[Any, ...]]:
    """Every column of every stored entry, exactly as the database returns it."""
    return [
        (h.id, h.run_key, h.seq, h.at, h.kind, h.actor, h.reason, json.dumps(h.detail))
        for h in engine.store.load_history(run.key)
    ]


def added_since(engine: Engine, run: Run, before: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The entries written since `before`, after checking that `before` is still intact."""
    now = stored(engine, run)
    assert now[: len(before)] == before, "an earlier history entry changed"
    assert [row[2] for row in now] == list(range(1, len(now) + 1))
    return now[len(before) :]


def test_restart_repair_pause_and_terminate_append_entries_with_actor_and_reason(
    engine: Engine,
) -> None:
    agent = engine.agent("refunds", tools=["list_orders", "reject", "echo"], review="auto")
    source = FAILING.split("```python\n", 1)[-1].split("```", 1)[0]
    agent.submit_plan(source, goal="Check refunds")
    run = agent.start({"week": 1})
    with pytest.raises(RunFailed):
        run.result(timeout=30)
    kinds = [entry.kind for entry in run.history()]
    assert kinds[:2] == ["created", "claimed"] and kinds[-1] == "failed"
    step_entries = [e for e in run.history() if e.kind == "step"]
    assert [e.detail["step"] for e in step_entries] == ["fetch open orders", "check refunds"]
    assert step_entries[-1].detail["error"]["message"] == "the refund desk is closed"
    failed_history = stored(engine, run)

    # repair: a reviewer approves the repaired version, which moves the run onto it
    agent.update(review="required", changed_by="dana")
    version = repair(run.id, engine=engine, model=ScriptedModel([REPAIRED]))
    engine.reviews.approve(version.id, reviewer="dana", comment="skip the closed desk")
    (repaired,) = added_since(engine, run, failed_history)
    assert repaired[4:7] == ("repaired", "dana", "skip the closed desk")
    detail = json.loads(repaired[7])
    assert detail["plan_id"] == version.id and detail["approved_by"] == "dana"
    assert detail["steps_kept"] == ["fetch open orders"]
    assert detail["error"]["message"].endswith("the refund desk is closed")
    assert run.result(timeout=30) == {"orders": 2}
    completed = stored(engine, run)

    run.restart(from_step="note the count", actor="eve", reason="count again")
    (restarted,) = added_since(engine, run, completed)
    assert restarted[4:7] == ("restarted", "eve", "count again")
    assert json.loads(restarted[7])["steps_kept"] == ["fetch open orders"]
    before_pause = stored(engine, run)

    run.pause(actor="eve", reason="hold on")
    run.resume(actor="dana", reason="go on")
    paused, resumed = added_since(engine, run, before_pause)
    assert (paused[4:7], resumed[4:7]) == (
        ("paused", "eve", "hold on"),
        ("resumed", "dana", "go on"),
    )
    before_terminate = stored(engine, run)

    run.terminate(actor="dana", reason="not needed")
    (terminated,) = added_since(engine, run, before_terminate)
    assert terminated[4:7] == ("terminated", "dana", "not needed")
    assert run.status().status == "terminated"

    public = run.history()
    assert [e.seq for e in public] == list(range(1, len(public) + 1))
    assert public[-1].kind == "terminated" and public[-1].actor == "dana"
