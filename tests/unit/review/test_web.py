"""The review web app's pages and JSON API, through FastAPI's TestClient on a real store."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agentflow.review.web import create_app
from agentflow.runtime import PlanVersion, RunStatus
from tests.support.host import read_ledger

V1 = '''"""Say hello and wait for a reply."""

def run(event, step):
    step.do("hello", tools.echo, 1)
    answer = step.wait_for_event("answer", type="reply", timeout="2 hours")
    return answer.payload
'''

V2 = '''"""Remind every customer, wait a day, then ask a manager."""

def run(event, step):
    orders = step.do("fetch <b>orders</b>", tools.list_orders, status="open")
    for order in orders:
        step.do("remind customer", tools.send_email, to=order["email"], subject="Hi", body="x")
    step.sleep("give them a day", "1 day")
    answer = step.wait_for_event("manager approval", type="refund-approval", timeout="3 days")
    return answer.payload
'''

FAN_OUT = """def run(event, step):
    first = step.do("first", tools.echo, "a")
    echoed = step.map("echo all", tools.echo, [1, 2, 3])
    return {"first": first, "echoed": echoed}
"""

FAILING = """def run(event, step):
    step.do("boom", tools.reject, "no <way>")
"""

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with TestClient(create_app(engine)) as test_client:
        yield test_client


@pytest.fixture
def agent(engine: Any) -> Any:
    return engine.agent("shop", tools=engine.tools.names(), review="required")


def text_of(html: str) -> str:
    """The page's visible text, whitespace collapsed (entities kept)."""
    body = html.split("<main>", 1)[-1]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def test_home_lists_pending_plans_with_risk_and_a_link_to_all(engine, agent, client):
    approved = agent.submit_plan(V1, goal="say hello")
    engine.reviews.approve(approved.id, reviewer="dana")
    pending = agent.submit_plan(V2, goal="remind customers")
    page = client.get("/")
    assert page.status_code == 200
    assert f'href="/plans/{pending.id}"' in page.text
    assert f'href="/plans/{approved.id}"' not in page.text
    assert '<span class="badge risk-high">high</span>' in page.text
    assert "remind customers" in page.text and "v2" in page.text
    assert 'href="/plans?status=all"' in page.text
    everything = client.get("/plans", params={"status": "all"})
    assert f'href="/plans/{approved.id}"' in everything.text
    assert f'href="/plans/{pending.id}"' in everything.text
    only_approved = client.get("/plans", params={"status": "approved", "agent": "shop"})
    assert f'href="/plans/{pending.id}"' not in only_approved.text
    bogus = client.get("/plans", params={"status": "bogus"})
    assert bogus.status_code == 400 and "status: &#39;bogus&#39; is not a status" in bogus.text


def test_an_empty_queue_says_so(client):
    assert "Nothing awaits review." in client.get("/").text


def test_plan_page_shows_the_summary_and_escapes_untrusted_text(agent, client):
    plan = agent.submit_plan(V2, goal=SCRIPT)
    page = client.get(f"/plans/{plan.id}")
    assert page.status_code == 200
    assert SCRIPT not in page.text and "<b>orders</b>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "fetch &lt;b&gt;orders&lt;/b&gt;" in page.text
    text = text_of(page.text)
    assert "risk: high" in text
    assert "has side effects inside a loop" in text
    # steps table: line, kind, name, tool, in loop, side effects
    assert "6 do remind customer send_email yes yes" in text
    assert "4 do fetch &lt;b&gt;orders&lt;/b&gt; list_orders no" in text
    # sleeps and waits with durations and event types
    assert "7 sleep give them a day 1 day" in text
    assert "8 wait_for_event manager approval - refund-approval 3 days" in text
    # tools used, with side-effect flags
    assert "send_email 1 yes" in text and "list_orders 1 no" in text
    # the source, numbered, step lines marked
    assert '<tr id="L6" class="step"><td class="ln">6</td>' in page.text
    assert '<tr id="L1"><td class="ln">1</td>' in page.text
    assert 'name="reviewer" required' in page.text


def test_plan_page_diffs_against_the_last_approved_plan(engine, agent, client):
    first = agent.submit_plan(V1, goal="say hello")
    whole = client.get(f"/plans/{first.id}").text
    assert "(no approved plan)" in whole and '<tr class="add"><td>+def run(event, step):' in whole
    engine.reviews.approve(first.id, reviewer="dana")
    second = agent.submit_plan(V2, goal="remind")
    page = client.get(f"/plans/{second.id}").text
    assert "shop v1" in page and "shop v2" in page
    assert '<tr class="remove"><td>-    step.do(&#34;hello&#34;, tools.echo, 1)' in page
    assert '<tr class="add"><td>+    step.sleep(&#34;give them a day&#34;, &#34;1 day&#34;)' in page
    assert '<tr class="hunk"><td>@@' in page
    third = agent.submit_plan(V1 + "# noted\n")
    noted = client.get(f"/plans/{third.id}").text
    assert '<tr class="add"><td>+# noted</td></tr>' in noted and "+def run" not in noted


def test_approve_through_the_form_records_the_decision(engine, agent, client):
    plan = agent.submit_plan(V1, goal="say hello")
    answer = client.post(
        f"/plans/{plan.id}/approve",
        data={"reviewer": " dana ", "comment": "looks <fine>"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/plans/{plan.id}?done=approved"
    stored = engine.get_plan(plan.id)
    assert stored.status == "approved" and stored.decided_by == "dana"
    [decision] = engine.reviews.decisions(plan.id)
    assert (decision["decision"], decision["reviewer"], decision["comment"]) == (
        "approved",
        "dana",
        "looks <fine>",
    )
    page = client.get(answer.headers["location"])
    assert "Decision recorded: this plan is approved." in page.text
    assert 'id="plan-status">approved<' in page.text
    assert "looks &lt;fine&gt;" in page.text and "looks <fine>" not in page.text
    assert 'name="reviewer"' not in page.text


def test_reject_through_the_form(engine, agent, client):
    plan = agent.submit_plan(V2, goal="remind")
    answer = client.post(f"/plans/{plan.id}/reject", data={"reviewer": "eve"})
    assert answer.status_code == 200 and answer.url.path == f"/plans/{plan.id}"
    assert "this plan is rejected" in answer.text
    assert engine.get_plan(plan.id).status == "rejected"
    [decision] = engine.reviews.decisions(plan.id)
    assert decision["reviewer"] == "eve" and decision["comment"] is None


def test_a_decision_without_a_reviewer_is_refused_and_changes_nothing(engine, agent, client):
    plan = agent.submit_plan(V1)
    answer = client.post(f"/plans/{plan.id}/approve", data={"reviewer": "  ", "comment": "mine"})
    assert answer.status_code == 400
    assert "needs the reviewer" in answer.text and 'role="alert"' in answer.text
    assert ">mine</textarea>" in answer.text
    assert engine.get_plan(plan.id).status == "pending"
    assert engine.reviews.decisions(plan.id) == []
    assert client.post(f"/plans/{plan.id}/approve", data={}).status_code == 400


def test_a_decided_plan_cannot_be_decided_again(engine, agent, client):
    plan = agent.submit_plan(V1)
    engine.reviews.reject(plan.id, reviewer="eve", comment="no")
    for action in ("approve", "reject"):
        answer = client.post(f"/plans/{plan.id}/{action}", data={"reviewer": "mallory"})
        assert answer.status_code == 409
        assert "already rejected" in answer.text
    api = client.post(f"/api/plans/{plan.id}/approve", json={"reviewer": "mallory"})
    assert api.status_code == 409 and "already rejected" in api.json()["detail"]
    assert engine.get_plan(plan.id).status == "rejected"
    assert [d["reviewer"] for d in engine.reviews.decisions(plan.id)] == ["eve"]


def test_approval_starts_the_run_the_planner_queued(engine, agent, client):
    plan = agent.submit_plan(FAN_OUT, goal="echo")
    engine.store.update_plan(plan.id, start_on_approval={"params": {"n": 1}, "run_id": "queued-1"})
    client.post(f"/plans/{plan.id}/approve", data={"reviewer": "dana"})
    assert engine.get_run("queued-1").status().plan_id == plan.id
    assert 'href="/runs/queued-1"' in client.get(f"/plans/{plan.id}").text


def test_generation_attempts_and_model_costs_are_shown(engine, agent, client):
    plan = agent.submit_plan(V1, goal="hello")
    attempts = [
        {
            "attempt": 1,
            "model": "gpt-test",
            "reply": "```python\n<img src=x onerror=alert(1)>\n```",
            "diagnostics": [{"line": 2, "col": 5, "code": "E100", "message": "bad <img>"}],
            "tokens_in": 100,
            "tokens_out": 20,
            "cost": 0.0012,
        },
        {"attempt": 2, "model": "gpt-test", "diagnostics": [], "tokens_in": 140, "cost": None},
    ]
    engine.store.update_plan(
        plan.id, generation=attempts, model="gpt-test", tokens=260, cost=0.0012, origin="generated"
    )
    page = client.get(f"/plans/{plan.id}").text
    text = text_of(page)
    assert "model gpt-test" in text and "tokens 260" in text and "cost $0.0012" in text
    assert "line 2, col 5: E100 bad &lt;img&gt;" in text
    assert "<img" not in page
    assert "2 gpt-test 140 / - - compiled" in text


def test_api_lists_shows_and_decides_plans(engine, agent, client):
    plan = agent.submit_plan(V2, goal=SCRIPT)
    other = agent.submit_plan(V1)
    listed = client.get("/api/plans", params={"status": "pending"})
    assert listed.status_code == 200
    assert [p["id"] for p in listed.json()] == [other.id, plan.id]
    shown = PlanVersion.model_validate(client.get(f"/api/plans/{plan.id}").json())
    assert shown.goal == SCRIPT and shown.summary.risk == "high" and shown.source == V2
    assert "+def run(event, step):" in client.get(f"/api/plans/{plan.id}/diff").text

    approved = client.post(
        f"/api/plans/{plan.id}/approve", json={"reviewer": "dana", "comment": "ok"}
    )
    assert approved.status_code == 200
    assert PlanVersion.model_validate(approved.json()).status == "approved"
    rejected = client.post(f"/api/plans/{other.id}/reject", json={"reviewer": "eve"})
    assert rejected.json()["status"] == "rejected"
    [decision] = client.get(f"/api/plans/{plan.id}/decisions").json()
    assert decision["reviewer"] == "dana" and decision["comment"] == "ok"
    assert client.get("/api/plans").json() == []
    assert len(client.get("/api/plans", params={"status": "all"}).json()) == 2

    blank = agent.submit_plan(V1 + "# again\n")
    answer = client.post(f"/api/plans/{blank.id}/approve", json={"reviewer": ""})
    assert answer.status_code == 400 and engine.get_plan(blank.id).status == "pending"
    assert client.post(f"/api/plans/{blank.id}/approve", json={}).status_code == 422
    assert client.get("/api/plans/999").status_code == 404
    assert client.post("/api/plans/999/approve", json={"reviewer": "x"}).status_code == 404


def test_run_history_and_a_run_timeline(engine, agent, client):
    good = agent.submit_plan(FAN_OUT, goal="echo")
    bad = agent.submit_plan(FAILING, goal="fail")
    for plan in (good, bad):
        engine.reviews.approve(plan.id, reviewer="dana")
    done = agent.start({"who": "<ada>"}, plan=good.id, run_id="run-good")
    failed = agent.start({}, plan=bad.id, run_id="run-bad")
    engine.work(until_idle=True)

    history = client.get("/runs")
    assert history.status_code == 200
    assert 'href="/runs/run-good"' in history.text and 'href="/runs/run-bad"' in history.text
    only_failed = client.get("/runs", params={"status": "errored", "agent": "shop"}).text
    assert 'href="/runs/run-bad"' in only_failed and 'href="/runs/run-good"' not in only_failed
    assert "run-good" not in client.get("/runs", params={"agent": "nobody"}).text

    page = client.get(f"/runs/{done.id}")
    assert page.status_code == 200
    assert 'id="run-status">complete<' in page.text
    assert "&lt;ada&gt;" in page.text and "<ada>" not in page.text
    rows = re.findall(r'<tr class="depth-(\d)">(.*?)</tr>', page.text, re.S)
    names = [(int(depth), text_of(row).split(" ")[:3]) for depth, row in rows]
    assert [depth for depth, _ in names] == [0, 0, 1, 1, 1]
    assert names[1][1][:3] == ["2", "echo", "all"]
    assert 'class="indent-1">↳ echo all[0]' in page.text
    assert "complete" in text_of(rows[2][1])

    errored = client.get(f"/runs/{failed.id}").text
    assert "NonRetryableError" in errored and "no &lt;way&gt;" in errored

    api_runs = [RunStatus.model_validate(r) for r in client.get("/api/runs").json()]
    assert {r.id for r in api_runs} == {"run-good", "run-bad"}
    assert client.get("/api/runs", params={"status": "complete"}).json()[0]["id"] == "run-good"
    detail = RunStatus.model_validate(client.get("/api/runs/run-good").json())
    assert detail.output == {"first": "a", "echoed": [1, 2, 3]}
    assert [s.name for s in detail.steps if s.parent is None] == ["first", "echo all"]
    assert client.get("/api/runs", params={"status": "nope"}).status_code == 422


def test_unknown_plans_and_runs_are_404(client):
    page = client.get("/plans/424242")
    assert page.status_code == 404 and "no plan version with id 424242" in page.text
    assert client.get("/runs/nope").status_code == 404
    assert client.get("/api/runs/nope").json() == {"detail": "no run with id 'nope'"}
    assert client.post("/plans/424242/approve", data={"reviewer": "x"}).status_code == 404


def test_a_run_id_of_several_agents_is_a_400_that_asks_for_the_agent(engine, agent, client):
    other = engine.agent("other", tools=engine.tools.names(), review="auto")
    engine.reviews.approve(agent.submit_plan(V1).id, reviewer="dana")
    other.submit_plan(V1)  # approved at once: review="auto"
    for owner in (agent, other):
        owner.start({}, run_id="order-1")
    api = client.get("/api/runs/order-1")
    assert api.status_code == 400 and "name one" in api.json()["detail"]
    page = client.get("/runs/order-1")
    assert page.status_code == 400 and "Bad request" in page.text
    assert client.get("/api/runs/order-1", params={"agent": "other"}).status_code == 200


def test_cross_site_form_posts_are_refused(engine, agent, client):
    plan = agent.submit_plan(V1)
    forged = client.post(
        f"/plans/{plan.id}/approve",
        data={"reviewer": "mallory"},
        headers={"Origin": "http://evil.example"},
    )
    assert forged.status_code == 403
    assert engine.get_plan(plan.id).status == "pending"
    same_site = client.post(
        f"/plans/{plan.id}/approve",
        data={"reviewer": "dana"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same_site.status_code == 303


def test_allowed_hosts_reject_other_host_headers(engine):
    with TestClient(create_app(engine, allowed_hosts=["127.0.0.1", "localhost"])) as client:
        assert client.get("/", headers={"Host": "rebound.example"}).status_code == 400
        assert client.get("/", headers={"Host": "127.0.0.1:8765"}).status_code == 200


def test_the_run_page_draws_an_escaped_waterfall(engine, agent, client):
    plan = agent.submit_plan(
        'def run(event, step):\n    step.do("<script>alert(1)</script>", tools.echo, "a")\n'
        '    return step.do("second", tools.echo, "b")\n'
    )
    engine.reviews.approve(plan.id, reviewer="dana")
    run = agent.start({}, plan=plan.id, run_id="drawn")
    engine.work(until_idle=True)
    page = client.get(f"/runs/{run.id}").text
    svg = page.split('<figure class="waterfall-figure">', 1)[1].split("</figure>", 1)[0]
    assert svg.startswith('<svg class="waterfall"') and svg.count('<g class="wf-step') == 2
    assert SCRIPT not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg


DRY = """def run(event, step):
    orders = step.do("fetch <b>orders</b>", tools.list_orders, status="open")
    step.sleep("give them a day", "1 day")
    try:
        step.wait_for_event("manager", type="approval", timeout="3 days")
    except WaitTimeout:
        return "no answer"
    return len(orders)
"""


def test_the_plan_page_runs_a_dry_run_and_shows_its_trace(engine, agent, client, ledger):
    plan = agent.submit_plan(DRY, goal=SCRIPT)
    page = client.get(f"/plans/{plan.id}").text
    assert f'action="/plans/{plan.id}/simulate#dry-run"' in page
    answered = client.post(f"/plans/{plan.id}/simulate", data={"waits": "answer"})
    assert answered.status_code == 200
    trace = answered.text.split('id="simulation-trace"', 1)[1].split("</table>", 1)[0]
    assert "list_orders" in trace and "1 day" in trace and "approval" in trace
    assert "fetch &lt;b&gt;orders&lt;/b&gt;" in trace and "<b>orders</b>" not in answered.text
    assert "the run would take 1 day" in answered.text  # the wait answered at once
    assert SCRIPT not in answered.text
    timed_out = client.post(f"/plans/{plan.id}/simulate", data={"waits": "timeout"})
    assert "wait_timeout" in timed_out.text
    assert "the run would take 4 days" in timed_out.text
    assert read_ledger(ledger) == [], "a dry run never calls a real tool"
    assert engine.get_plan(plan.id).status == "pending"
    assert client.post(f"/plans/{plan.id}/simulate", data={"waits": "never"}).status_code == 422
