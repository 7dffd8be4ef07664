"""The run page's history and its actions (event, pause, resume, terminate, restart, retry).

Through FastAPI's TestClient on a real store: each action is a CSRF-protected form post,
recorded in the run's history with the signed-in reviewer (else "web") and the reason typed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agentflow.review.actions import CSRF_COOKIE
from agentflow.review.web import create_app
from agentflow.run import Run

WAITS = '''"""Say hello and wait for a reply."""

def run(event, step):
    step.do("hello", tools.echo, 1)
    answer = step.wait_for_event("answer", type="reply", timeout="2 hours")
    step.do("thank", tools.echo, answer.payload)
    return answer.payload
'''
FAILS = """def run(event, step):
    step.do("ok", tools.echo, 1)
    step.do("boom", tools.reject, "no")
"""
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    with TestClient(create_app(engine)) as test_client:
        yield test_client


def started(engine: Any, source: str = WAITS, run_id: str = "r1") -> Run:
    agent = engine.agent("shop", tools=engine.tools.names(), review="auto")
    plan = agent.submit_plan(source)
    run: Run = agent.start({"who": SCRIPT}, plan=plan.id, run_id=run_id)
    engine.work(until_idle=True)
    return run


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the page has no action form"
    return found.group(1)


def forms_on(page: str) -> list[str]:
    return re.findall(r'action="/runs/[^"]+/actions/(\w+)"', page)


def post(client: TestClient, run: Run, action: str, **fields: str) -> Any:
    token = csrf_of(client.get(f"/runs/{run.id}").text)
    return client.post(
        f"/runs/{run.id}/actions/{action}",
        data={"csrf": token, **fields},
        follow_redirects=False,
    )


def test_the_page_offers_only_the_actions_the_status_allows(engine, client):
    run = started(engine)
    page = client.get(f"/runs/{run.id}")
    assert page.status_code == 200 and 'id="run-status">waiting<' in page.text
    assert forms_on(page.text) == ["event", "pause", "terminate", "restart"]
    assert client.cookies.get(CSRF_COOKIE) == csrf_of(page.text)
    assert 'value="reply"' in page.text  # the type the run waits for, filled in
    assert '<option value="hello#0">step hello</option>' in page.text
    run.pause(actor="dana")
    assert forms_on(client.get(f"/runs/{run.id}").text) == [
        "event",
        "resume",
        "terminate",
        "restart",
    ]
    run.terminate()
    assert forms_on(client.get(f"/runs/{run.id}").text) == ["restart"]
    failed = started(engine, FAILS, "r2")
    assert forms_on(client.get(f"/runs/{failed.id}").text) == ["retry", "restart"]


def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(engine, client):
    run = started(engine)
    before = run.history()
    client.get(f"/runs/{run.id}")  # the session has its token
    for token in ("", "x" * 43, "not a token at all"):
        refused = client.post(
            f"/runs/{run.id}/actions/terminate", data={"csrf": token, "reason": "forged"}
        )
        assert refused.status_code == 403
        assert "CSRF token does not match" in refused.text
    stranger = TestClient(create_app(engine))
    token = csrf_of(client.get(f"/runs/{run.id}").text)  # a token, but not the stranger's
    assert stranger.post(f"/runs/{run.id}/actions/pause", data={"csrf": token}).status_code == 403
    cross_site = client.post(
        f"/runs/{run.id}/actions/terminate",
        data={"csrf": token},
        headers={"Origin": "http://evil.example"},
    )
    assert cross_site.status_code == 403
    assert run.status().status == "waiting" and run.history() == before


def test_an_event_with_bad_json_is_shown_back_with_the_error_and_nothing_is_sent(engine, client):
    run = started(engine)
    before = run.history()
    bad = post(client, run, "event", type="reply", payload='{"ok": tru}')
    assert bad.status_code == 400
    assert "the payload is not valid JSON" in bad.text and "line 1, column 8" in bad.text
    assert "{&#34;ok&#34;: tru}" in bad.text  # kept in the form, escaped
    untyped = post(client, run, "event", type=" ", payload="1")
    assert untyped.status_code == 400 and "the event needs a type" in untyped.text
    assert run.history() == before

    sent = post(client, run, "event", type="reply", payload='{"ok": true}')
    assert sent.status_code == 303 and sent.headers["location"] == "/runs/r1?done=event"
    assert "event sent" in client.get(sent.headers["location"]).text
    engine.work(until_idle=True)
    assert run.result(timeout=10) == {"ok": True}
    event = next(e for e in run.history() if e.kind == "event")
    assert (event.actor, event.detail["payload"]) == ("web", {"ok": True})


def test_pause_resume_terminate_are_recorded_with_actor_and_reason(engine, client):
    run = started(engine)
    assert post(client, run, "pause", reason="check the amount").status_code == 303
    assert run.status().status == "paused"
    assert post(client, run, "resume", reason="").status_code == 303
    assert post(client, run, "terminate", reason="customer left").status_code == 303
    assert run.status().status == "terminated"
    asked = [(e.kind, e.actor, e.reason) for e in run.history() if e.actor]
    assert asked == [
        ("paused", "web", "check the amount"),
        ("resumed", "web", None),
        ("terminated", "web", "customer left"),
    ]
    late = post(client, run, "pause", reason="again")
    assert late.status_code == 409
    assert "is terminated: &#39;pause&#39; is not possible now" in late.text


def test_restart_from_a_chosen_step_and_retry_of_a_failed_run(engine, client):
    run = started(engine)
    restarted = post(client, run, "restart", from_step="hello#0", reason="again")
    assert restarted.status_code == 303
    entry = run.history()[-1]
    assert (entry.kind, entry.actor, entry.reason) == ("restarted", "web", "again")
    assert entry.detail["from_step"] == "hello#0" and entry.detail["steps_kept"] == []
    engine.work(until_idle=True)
    unknown = post(client, run, "restart", from_step="nope", reason="x")
    assert unknown.status_code == 404 and "no step named" in unknown.text

    failed = started(engine, FAILS, "r2")
    assert post(client, failed, "retry", reason="the desk opened").status_code == 303
    retried = failed.history()[-1]
    assert (retried.kind, retried.reason, retried.detail["retry"]) == (
        "restarted",
        "the desk opened",
        True,
    )
    assert retried.detail["steps_kept"] == ["ok"]


def test_the_signed_in_reviewer_is_the_actor(engine):
    run = started(engine)
    app = create_app(engine, token=lambda offered: "dana" if offered == "secret" else None)
    with TestClient(app, headers={"Authorization": "Bearer secret"}) as client:
        page = client.get(f"/runs/{run.id}")
        assert "Recorded in the run's history as <strong>dana</strong>" in page.text
        assert post(client, run, "pause", reason="mine").status_code == 303
    assert run.history()[-1].actor == "dana"


def test_history_entries_stay_escaped(engine, client):
    run = started(engine)
    run.send_event("reply", {"html": SCRIPT}, actor=SCRIPT)
    engine.work(until_idle=True)
    run.restart(actor=SCRIPT, reason=SCRIPT)
    page = client.get(f"/runs/{run.id}").text
    history = page.split('id="history"', 1)[1]
    assert SCRIPT not in history
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in history
    kinds = re.findall(r'<span class="badge kind">(\w+)</span>', history)
    assert kinds[0] == "created" and kinds[-1] == "restarted" and "event" in kinds


def test_the_json_api_mirrors_the_history_section(engine, client):
    run = started(engine)
    run.pause(actor="dana", reason="hold")
    answer = client.get(f"/api/runs/{run.id}/history")
    assert answer.status_code == 200
    entries = answer.json()
    assert [e["kind"] for e in entries] == ["created", "claimed", "step", "suspended", "paused"]
    assert (entries[-1]["actor"], entries[-1]["reason"]) == ("dana", "hold")
    assert client.get("/api/runs/nope/history").status_code == 404
