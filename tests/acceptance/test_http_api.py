"""Every `/api/v1` endpoint through a real `agentflow serve` subprocess, with raw HTTP.

One server per module (it runs its own worker); each test uses its own agents or run ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentflow.tokens import Tokens
from tests.support.reach_app import engine as make_host
from tests.support.serve import serving

pytestmark = pytest.mark.slow

WAITING = '''"""Wait for a go, then see whether a second one comes."""

def run(event, step):
    first = step.wait_for_event("first go", type="go", timeout="1 hour")
    try:
        again = step.wait_for_event("second go", type="go", timeout="2 seconds").payload
    except WaitTimeout:
        again = None
    return {"first": first.payload, "again": again}
'''
BROKEN = 'def run(event, step):\n    step.do("x", tools.sendmail)\n    return open("f")\n'


class World:
    """The server's URL and a token per role."""

    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.base = base
        self.tokens = tokens

    def http(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=self.base + "/api/v1", headers=headers, timeout=30)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder: Path = tmp_path_factory.mktemp("serve")
    db = f"sqlite:///{folder / 'serve.db'}"
    host = make_host(db)
    host.agent("acme", tools=["list_orders", "send_email"])
    host.agent("globex", tools=["list_orders"])
    host.agent("initech", tools=["list_orders"], review="auto")
    tokens = Tokens(host)
    secrets = {
        "acme": tokens.create("agent", agent_id="acme")[0],
        "globex": tokens.create("agent", agent_id="globex")[0],
        "initech": tokens.create("agent", agent_id="initech")[0],
        "dana": tokens.create("reviewer", name="dana")[0],
        "admin": tokens.create("admin", name="ops")[0],
    }
    host.close()
    with serving(db) as base:
        yield World(base, secrets)


def approved_plan(world: World, agent: str, source: str = WAITING) -> int:
    with world.http(agent) as http, world.http("dana") as dana:
        plan = http.post(f"/agents/{agent}/plans", json={"source": source, "goal": "g"})
        assert plan.status_code == 201, plan.text
        plan_id: int = plan.json()["id"]
        assert dana.post(f"/plans/{plan_id}/approve", json={}).status_code == 200
    return plan_id


def wait_for(http: httpx.Client, run_id: str, *states: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        status: dict[str, Any] = http.get(f"/runs/{run_id}").json()
        if status["status"] in states:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)


def test_a_plan_is_refused_with_diagnostics_then_approved_by_a_reviewer_only(world):
    with world.http("acme") as acme, world.http("globex") as globex, world.http("dana") as dana:
        refused = acme.post("/agents/acme/plans", json={"source": BROKEN, "goal": "mail"})
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["status"] == 422 and problem["title"] == "Unprocessable Entity"
        lines = {d["line"] for d in problem["diagnostics"]}
        assert lines == {2, 3}, problem
        assert all({"line", "col", "code", "message"} <= set(d) for d in problem["diagnostics"])

        submitted = acme.post("/agents/acme/plans", json={"source": WAITING, "goal": "wait"})
        assert submitted.status_code == 201
        plan = submitted.json()
        assert plan["status"] == "pending" and plan["agent_id"] == "acme"

        mine = acme.post(f"/plans/{plan['id']}/approve", json={"comment": "me"})
        assert mine.status_code == 403 and "reviewer" in mine.json()["detail"]
        foreign = globex.post(f"/plans/{plan['id']}/approve", json={})
        missing = globex.post("/plans/999999/approve", json={})
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["detail"] == missing.json()["detail"].replace(
            "999999", str(plan["id"])
        )

        approved = dana.post(f"/plans/{plan['id']}/approve", json={"comment": "fine"})
        assert approved.status_code == 200
        assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "dana"
        again = dana.post(f"/plans/{plan['id']}/reject", json={})
        assert again.status_code == 409

        detail = acme.get(f"/plans/{plan['id']}").json()
        assert detail["source"] == WAITING and detail["summary"]["steps"]
        assert detail["diff"].startswith("--- (no approved plan)")
        assert [d["reviewer"] for d in detail["decisions"]] == ["dana"]
        assert globex.get(f"/plans/{plan['id']}").status_code == 404

        assert plan["id"] in [p["id"] for p in dana.get("/plans").json()]
        assert plan["id"] in [p["id"] for p in acme.get("/plans?status=approved").json()]
        assert globex.get("/plans").json() == []
        assert globex.get("/plans?agent=acme").json() == []


def test_check_compiles_without_storing(world):
    with world.http("acme") as acme, world.http("dana") as dana:
        before = len(dana.get("/plans?status=pending").json())
        bad = acme.post("/check", json={"source": BROKEN}).json()
        assert bad["ok"] is False and bad["agent_id"] == "acme"
        assert {d["line"] for d in bad["diagnostics"]} == {2, 3}
        good = acme.post("/check", json={"source": WAITING}).json()
        assert good["ok"] is True and good["summary"]["event_types"] == ["go"]
        assert acme.post("/check", json={"source": WAITING, "agent": "globex"}).status_code == 404
        assert len(dana.get("/plans?status=pending").json()) == before


def test_a_run_gets_the_same_event_id_once_and_finishes(world):
    approved_plan(world, "acme")
    with world.http("acme") as acme, world.http("globex") as globex:
        started = acme.post("/agents/acme/runs", json={"params": {"n": 1}, "run_id": "order-1"})
        assert started.status_code == 201 and started.json()["id"] == "order-1"
        repeated = acme.post("/agents/acme/runs", json={"params": {"n": 2}, "run_id": "order-1"})
        assert repeated.status_code == 201 and repeated.json()["params"] == {"n": 1}

        wait_for(acme, "order-1", "waiting")
        assert globex.get("/runs/order-1").status_code == 404
        assert globex.post("/runs/order-1/events", json={"type": "go"}).status_code == 404
        assert globex.get("/runs").json()["items"] == []

        event = {"type": "go", "payload": {"n": 1}, "id": "mail-17"}
        first = acme.post("/runs/order-1/events", json=event)
        second = acme.post("/runs/order-1/events", json={**event, "payload": {"n": 2}})
        assert first.status_code == second.status_code == 202
        assert first.json()["delivered"] is True and second.json()["delivered"] is False

        done = wait_for(acme, "order-1", "complete", "errored")
        assert done["output"] == {"first": {"n": 1}, "again": None}, done
        names = [s["name"] for s in done["steps"]]
        assert names == ["first go", "second go"]
        late = acme.post("/runs/order-1/events", json={"type": "go"})
        assert late.status_code == 409


def test_runs_are_listed_a_page_at_a_time(world):
    approved_plan(world, "globex")
    with world.http("globex") as globex, world.http("admin") as admin:
        ids = [f"page-{i}" for i in range(3)]
        for run_id in ids:
            assert globex.post("/agents/globex/runs", json={"run_id": run_id}).status_code == 201
            time.sleep(0.01)
        first = globex.get("/runs", params={"limit": 2}).json()
        assert [r["id"] for r in first["items"]] == ["page-2", "page-1"]
        rest = globex.get("/runs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [r["id"] for r in rest["items"]] == ["page-0"] and rest["next_cursor"] is None

        created = first["items"][1]["created_at"]
        since = globex.get("/runs", params={"since": created}).json()["items"]
        assert [r["id"] for r in since] == ["page-2", "page-1"]
        until = globex.get("/runs", params={"until": created}).json()["items"]
        assert [r["id"] for r in until] == ["page-0"]
        assert {
            r["agent_id"] for r in admin.get("/runs", params={"agent": "globex"}).json()["items"]
        } == {"globex"}

        bogus = globex.get("/runs", params={"status": "bogus"})
        assert bogus.status_code == 422 and bogus.json()["errors"][0]["loc"] == ["query", "status"]
        assert "status" in bogus.json()["detail"]
        assert globex.get("/runs", params={"cursor": "nonsense"}).status_code == 422


def test_a_run_is_paused_resumed_terminated_and_restarted(world):
    approved_plan(world, "acme")
    with world.http("acme") as acme, world.http("dana") as dana:
        acme.post("/agents/acme/runs", json={"run_id": "control-1"})
        wait_for(acme, "control-1", "waiting")
        assert dana.post("/runs/control-1/pause", json={}).status_code == 403
        assert (
            acme.post("/runs/control-1/pause", json={"reason": "hold"}).json()["status"] == "paused"
        )
        assert acme.post("/runs/control-1/resume").json()["status"] in (
            "queued",
            "running",
            "waiting",
        )
        wait_for(acme, "control-1", "waiting")
        ended = acme.post("/runs/control-1/terminate", json={"reason": "no longer needed"})
        assert ended.json()["status"] == "terminated"
        assert acme.post("/runs/control-1/resume").status_code == 409
        restarted = acme.post("/runs/control-1/restart", json={})
        assert restarted.json()["status"] in ("queued", "running", "waiting")
        wait_for(acme, "control-1", "waiting")


def test_a_runs_history_records_each_control_with_the_tokens_name_and_reason(world):
    approved_plan(world, "acme")
    with (
        world.http("acme") as acme,
        world.http("globex") as globex,
        world.http("admin") as admin,
    ):
        acme.post("/agents/acme/runs", json={"run_id": "history-1", "params": {"n": 7}})
        wait_for(acme, "history-1", "waiting")
        acme.post("/runs/history-1/events", json={"type": "go", "payload": {"ok": "<b>"}})
        acme.post("/runs/history-1/pause", json={"reason": "hold"})
        admin.post("/runs/history-1/terminate", json={"reason": "not needed"})

        answer = acme.get("/runs/history-1/history")
        assert answer.status_code == 200, answer.text
        entries = answer.json()
        assert entries[0]["kind"] == "created" and entries[0]["detail"]["params"] == {"n": 7}
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        event = next(e for e in entries if e["kind"] == "event")
        assert event["detail"]["payload"] == {"ok": "<b>"} and event["actor"]
        controls = [
            (e["kind"], e["actor"], e["reason"])
            for e in entries
            if e["kind"].startswith(("pause", "terminat"))
        ]
        assert controls[0][1:] == (event["actor"], "hold")
        assert controls[-1][1:] == ("ops", "not needed")
        assert admin.get("/runs/history-1/history").json() == entries
        assert globex.get("/runs/history-1/history").status_code == 404
        assert acme.get("/runs/nope/history").status_code == 404


def test_plan_and_run_plans_with_the_hosts_model(world):
    with world.http("initech") as initech:
        answer = initech.post(
            "/agents/initech/plan-and-run",
            json={"goal": "count the open orders", "params": {"label": "x"}, "wait": True},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "complete" and body["output"] == {"orders": 2, "label": "x"}
        assert body["review"] == "approved" and body["agent_id"] == "initech"
    with world.http("globex") as globex, world.http("dana") as dana:
        queued = globex.post(
            "/agents/globex/plan-and-run", json={"goal": "count the open orders", "params": {}}
        ).json()
        assert queued["status"] == "awaiting_review"
        dana.post(f"/plans/{queued['plan_id']}/approve", json={"comment": "ok"})
        assert wait_for(globex, queued["run_id"], "complete")["output"]["orders"] == 2


def test_bad_requests_are_problems_never_500(world):
    with world.http(None) as anonymous:
        missing = anonymous.get("/runs")
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.headers["content-type"] == "application/problem+json"
    with httpx.Client(base_url=world.base, timeout=10) as http:
        wrong = http.get("/api/v1/runs", headers={"Authorization": "Bearer aft_nope"})
        assert wrong.status_code == 401
    with world.http("acme") as acme:
        garbled = acme.post(
            "/agents/acme/runs", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert garbled.status_code == 422 and garbled.json()["errors"]
        extra = acme.post("/agents/acme/runs", json={"params": {}, "colour": "red"})
        assert extra.status_code == 422 and "colour" in extra.json()["detail"]
        not_a_dict = acme.post("/agents/acme/runs", json={"params": [1, 2]})
        assert not_a_dict.status_code == 422 and "params" in not_a_dict.json()["detail"]
        bad_id = acme.post("/agents/acme/runs", json={"run_id": "has space"})
        assert bad_id.status_code == 422 and "run_id" in bad_id.json()["detail"]
        huge = acme.get("/plans/99999999999999999999999")
        assert huge.status_code == 422
        assert acme.post("/agents/nobody/plans", json={"source": WAITING}).status_code == 404


def test_the_web_app_and_the_docs_are_served_too(world):
    with httpx.Client(base_url=world.base, timeout=10) as http:
        reviewer = http.get("/", headers={"Authorization": f"Bearer {world.tokens['dana']}"})
        assert reviewer.status_code == 200 and "<html" in reviewer.text.lower()
        agent = http.get("/", headers={"Authorization": f"Bearer {world.tokens['acme']}"})
        assert agent.status_code == 401
        docs = http.get("/docs")
        assert docs.status_code == 200 and "/api/v1/runs/{run_id}/events" in docs.text
        assert "<script" not in docs.text and "cdn" not in docs.text.lower()
        paths = http.get("/openapi.json").json()["paths"]
        assert "/api/v1/agents/{agent}/plan-and-run" in paths


def test_a_reviewer_signed_in_to_the_web_app_decides_under_the_tokens_name(world):
    with world.http("acme") as acme:
        plan = acme.post("/agents/acme/plans", json={"source": WAITING, "goal": "web"}).json()
    with httpx.Client(base_url=world.base, timeout=10, follow_redirects=True) as web:
        opened = web.get(f"/plans/{plan['id']}?token={world.tokens['dana']}")
        assert opened.status_code == 200 and 'value="dana" readonly' in opened.text
        decided = web.post(
            f"/plans/{plan['id']}/approve",
            data={"reviewer": "someone else", "comment": "from the web"},
        )
        assert decided.status_code == 200
    with world.http("dana") as dana:
        assert dana.get(f"/plans/{plan['id']}").json()["decided_by"] == "dana"


def test_a_browser_without_a_token_gets_the_sign_in_page(world):
    with httpx.Client(base_url=world.base, timeout=10) as browser:
        page = browser.get("/runs?status=waiting", headers={"accept": "text/html"})
        assert page.status_code == 401 and 'name="token"' in page.text
        assert 'value="/runs?status=waiting"' in page.text
        refused = browser.post("/signin", data={"token": world.tokens["acme"], "next": "/runs"})
        assert refused.status_code == 401 and "not a reviewer" in refused.text
        offsite = browser.post("/signin", data={"token": world.tokens["dana"], "next": "//evil"})
        assert offsite.status_code == 303 and offsite.headers["location"] == "/"
        signed = browser.post("/signin", data={"token": world.tokens["dana"], "next": "/runs"})
        assert signed.status_code == 303 and signed.headers["location"] == "/runs"
        assert browser.get("/runs").status_code == 200


def test_unknown_endpoints_and_methods_are_problems_too(world):
    with world.http("acme") as acme:
        missing = acme.get("/nothing/here")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        wrong = acme.delete("/runs")
        assert wrong.status_code in (404, 405) and wrong.json()["status"] == wrong.status_code
