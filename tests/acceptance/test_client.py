"""`agentflow.client.Client` against a real `agentflow serve` subprocess: the embedded API's
handles, over HTTP, for a service without database access."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentflow.client import AccessDenied, Client, RemoteRun
from agentflow.errors import NotFound, PlanValidationError, RunFailed, RunStateError
from agentflow.models import RunState
from agentflow.tokens import Tokens
from tests.support.reach_app import engine as make_host
from tests.support.serve import serving

pytestmark = pytest.mark.slow

PLAN = '''"""Count open orders, then wait for the manager's word."""

def run(event, step):
    orders = step.do("fetch open orders", tools.list_orders, status="open")
    answer = step.wait_for_event("manager", type="decision", timeout="1 hour")
    try:
        late = step.wait_for_event("late", type="decision", timeout="1 second").payload
    except WaitTimeout:
        late = None
    return {"orders": len(orders), "decision": answer.payload, "late": late}
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    folder: Path = tmp_path_factory.mktemp("client")
    db = f"sqlite:///{folder / 'client.db'}"
    host = make_host(db)
    host.agent("acme", tools=["list_orders"])
    host.agent("globex", tools=["list_orders"])
    tokens = Tokens(host)
    secrets = {
        "acme": tokens.create("agent", agent_id="acme")[0],
        "globex": tokens.create("agent", agent_id="globex")[0],
        "dana": tokens.create("reviewer", name="dana")[0],
    }
    host.close()
    with serving(db) as base:
        yield base, secrets


def wait_until(run: RemoteRun, state: RunState) -> None:
    deadline = time.monotonic() + 30
    while run.status().status != state:
        assert time.monotonic() < deadline, run.status()
        time.sleep(0.05)


def test_a_service_drives_a_plan_and_a_run_through_the_client(server):
    base, tokens = server
    with (
        Client(base, tokens["acme"]) as acme_client,
        Client(base, tokens["dana"]) as reviewer,
        Client(base, tokens["globex"]) as globex,
    ):
        acme = acme_client.agent("acme")
        with pytest.raises(PlanValidationError) as refused:
            acme.submit_plan("def run(event, step):\n    return tools.nope()\n", goal="x")
        assert refused.value.diagnostics[0].line == 2

        plan = acme.submit_plan(PLAN, goal="count and wait")
        assert plan.status == "pending"
        with pytest.raises(AccessDenied) as denied:
            acme_client.approve(plan.id)
        assert denied.value.status == 403
        with pytest.raises(NotFound):
            globex.get_plan(plan.id)
        approved = reviewer.approve(plan.id, comment="looks right")
        assert approved.decided_by == "dana"
        assert reviewer.plan_detail(plan.id)["decisions"][0]["comment"] == "looks right"

        run = acme.start({"customer": 42}, run_id="order-7")
        assert acme.start({"customer": 0}, run_id="order-7").status().params == {"customer": 42}
        wait_until(run, RunState.WAITING)
        assert run.send_event("decision", {"ok": True}, id="mail-1") is True
        assert run.send_event("decision", {"ok": False}, id="mail-1") is False
        assert run.result(timeout=30) == {"orders": 2, "decision": {"ok": True}, "late": None}
        with pytest.raises(RunStateError):
            run.send_event("decision", {})

        assert [r.id for r in acme.runs()] == ["order-7"]
        assert acme_client.get_run("order-7").status().status == RunState.COMPLETE
        assert [p.id for p in acme.plans(status="approved")] == [plan.id]
        with pytest.raises(NotFound):
            globex.get_run("order-7")
        assert globex.runs() == [] and globex.plans() == []
        statuses = reviewer.run_statuses(agent="acme", status="complete")
        assert [(r.id, r.status) for r in statuses] == [("order-7", RunState.COMPLETE)]
        assert [r.id for r in reviewer.runs(limit=1)] == ["order-7"]
        assert globex.agent("globex").check(PLAN)["ok"] is True
        assert globex.check(PLAN, agent="globex")["summary"]["event_types"] == ["decision"]


def test_run_control_and_failures_through_the_client(server):
    base, tokens = server
    with Client(base, tokens["acme"]) as client:
        run = client.agent("acme").start(run_id="order-8")
        wait_until(run, RunState.WAITING)
        assert run.pause("hold on").status == RunState.PAUSED
        assert run.resume().status != RunState.PAUSED
        wait_until(run, RunState.WAITING)
        assert run.terminate("not needed").status == RunState.TERMINATED
        with pytest.raises(RunFailed):
            run.result(timeout=5)
        assert run.restart(reason="try again").status != RunState.TERMINATED
        wait_until(run, RunState.WAITING)
        history = run.history()
        assert history[0].kind == "created" and history[0].seq == 1
        asked = [(e.kind, e.reason) for e in history if e.actor is not None]
        assert asked == [
            ("paused", "hold on"),
            ("resumed", None),
            ("terminated", "not needed"),
            ("restarted", "try again"),
        ]
    with Client(base, "aft_not-a-token") as stranger, pytest.raises(AccessDenied):
        stranger.runs()
