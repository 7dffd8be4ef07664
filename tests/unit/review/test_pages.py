"""The review app's search, paging, local times, full results and live event streams."""

from __future__ import annotations

import html
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from agentflow.review.live import LiveSettings
from agentflow.review.web import TOKEN_COOKIE, create_app
from agentflow.server import create_server

SCRIPT = "<script>alert(1)</script>"
ECHO = 'def run(event, step):\n    return step.do("echo", tools.echo, event.params.get("n"))\n'

MOVING = """def run(event, step):
    step.do("greet", tools.echo, "hi")
    step.sleep("nap", "0.4 seconds")
    answer = step.wait_for_event("go ahead", type="go", timeout="1 hour")
    return answer.payload
"""

HOSTILE = """def run(event, step):
    step.do("<img src=x onerror=alert(2)>", tools.echo, "<script>alert(3)</script>" * 20)
    answer = step.wait_for_event("<b>approve</b>", type="go", timeout="1 hour")
    step.do("refuse", tools.reject, "<script>alert(4)</script>")
"""


@pytest.fixture
def client(engine: Any) -> Iterator[TestClient]:
    app = create_app(engine, live=LiveSettings(interval=0.05, lifetime=30, keep_alive=1))
    with TestClient(app) as test_client:
        yield test_client


def events_of(body: str) -> list[tuple[str, str]]:
    """The (event, data) pairs of a text/event-stream body."""
    found = []
    for block in body.split("\n\n"):
        lines = block.split("\n")
        kind = next((line[7:] for line in lines if line.startswith("event: ")), None)
        if kind is not None:
            data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
            found.append((kind, data))
    return found


def statuses_in(events: list[tuple[str, str]]) -> list[str]:
    seen = []
    for kind, data in events:
        match = re.search(r'id="run-status">([a-z]+)<', data)
        if kind == "update" and match and (not seen or seen[-1] != match.group(1)):
            seen.append(match.group(1))
    return seen


def seed_runs(engine: Any, count: int) -> list[Any]:
    shop = engine.agent("shop", tools=["echo"], review="auto")
    ops = engine.agent("ops", tools=["echo"], review="auto")
    refund = shop.submit_plan(ECHO, goal="Refund the order")
    report = ops.submit_plan(ECHO + "# r\n", goal="Weekly report")
    runs = [shop.start({"n": i}, plan=refund.id, run_id=f"r{i:02d}") for i in range(count)]
    runs.append(ops.start({"n": 0}, plan=report.id, run_id="weekly"))
    return runs


def run_ids(page: str) -> list[str]:
    return re.findall(r'<td><a href="/runs/([^"]+)">', page)


def test_runs_are_searched_and_paged_with_links_that_keep_the_filters(engine, client):
    seed_runs(engine, 7)
    first = client.get("/runs", params={"agent": "shop", "q": "REFUND", "per": "3"})
    assert first.status_code == 200
    assert run_ids(first.text) == ["r06", "r05", "r04"]
    assert 'rel="prev"' not in first.text
    older = html.unescape(re.search(r'rel="next" href="([^"]+)"', first.text).group(1))
    assert older.startswith("/runs?agent=shop&q=REFUND&per=3&after=")
    second = client.get(older)
    assert run_ids(second.text) == ["r03", "r02", "r01"]
    third = client.get(html.unescape(re.search(r'rel="next" href="([^"]+)"', second.text)[1]))
    assert run_ids(third.text) == ["r00"] and 'rel="next"' not in third.text
    newer = html.unescape(re.search(r'rel="prev" href="([^"]+)"', third.text).group(1))
    assert "before=" in newer and "q=REFUND" in newer
    assert run_ids(client.get(newer).text) == ["r03", "r02", "r01"]
    # The form shows the filters back, and the live region streams the same page.
    assert 'id="f-q" name="q" value="REFUND"' in first.text
    assert 'data-live="/live/runs?agent=shop&amp;q=REFUND&amp;per=3"' in first.text
    assert run_ids(client.get("/runs", params={"q": "weekly"}).text) == ["weekly"]
    assert run_ids(client.get("/runs", params={"status": "complete"}).text) == []
    assert "No runs match." in client.get("/runs", params={"to": "2001-01-01"}).text
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert len(run_ids(client.get("/runs", params={"from": today, "to": today}).text)) == 8


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "bogus"}, "status: &#39;bogus&#39; is not a status to filter on"),
        ({"from": "yesterday"}, "from: &#39;yesterday&#39; is not a date or time"),
        ({"to": "2026-13-01"}, "to: &#39;2026-13-01&#39; is not a date or time"),
        ({"from": "2026-12-05", "to": "2026-12-01"}, "is not after from"),
        ({"per": "0"}, "per: &#39;0&#39; is not a page size"),
        ({"per": "lots"}, "per: &#39;lots&#39; is not a page size"),
        ({"after": "not-a-page"}, "after: &#39;not-a-page&#39; is not a page of this list"),
        ({"after": "x", "before": "y"}, "give one of them"),
    ],
)
def test_bad_filters_are_a_400_page_that_names_the_field(client, params, message):
    for path in ("/runs", "/live/runs"):
        answer = client.get(path, params=params)
        assert answer.status_code == 400, (path, answer.text)
        assert message in answer.text and "Bad request" in answer.text


def test_plans_are_searched_and_paged(engine, client):
    shop = engine.agent("shop", tools=["echo"], review="required")
    plans = [shop.submit_plan(ECHO + f"# {i}\n", goal=f"goal {i} of shop") for i in range(5)]
    engine.reviews.approve(plans[0].id, reviewer="dana")
    page = client.get("/plans", params={"status": "pending", "per": "2", "q": "OF SHOP"}).text
    assert re.findall(r'<td><a href="/plans/(\d+)">#', page) == [str(plans[4].id), str(plans[3].id)]
    older = html.unescape(re.search(r'rel="next" href="([^"]+)"', page).group(1))
    assert "status=pending" in older and "q=OF+SHOP" in older
    rest = re.findall(r'<td><a href="/plans/(\d+)">#', client.get(older).text)
    assert rest == [str(plans[2].id), str(plans[1].id)]
    home = client.get("/", params={"per": "3"}).text
    assert len(re.findall(r'<td><a href="/plans/(\d+)">#', home)) == 3
    assert 'href="/?status=pending&amp;per=3&amp;after=' in home
    assert client.get("/", params={"status": "approved"}).status_code == 400
    assert client.get("/plans", params={"before": "x1"}).status_code == 400


def test_times_are_time_elements_in_utc_and_long_results_expand(engine, client):
    shop = engine.agent("shop", tools=["echo"], review="auto")
    shop.submit_plan(ECHO)
    long_value = "word " * 100
    run = shop.start({"n": long_value}, run_id="long")
    engine.work(until_idle=True)
    page = client.get(f"/runs/{run.id}").text
    stamps = re.findall(r'<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)">([^<]+)</time>', page)
    assert stamps and all(text.endswith(" UTC") for _, text in stamps)
    assert stamps[0][1][:10] == stamps[0][0][:10]
    details = re.search(r'<details class="full" id="step-output-1">(.*?)</details>', page, re.S)
    assert details is not None and long_value.strip() in details.group(1)
    assert "(show all)" in details.group(1)
    listed = client.get("/runs").text
    assert '<details class="full" id="run-output-1">' in listed
    short = shop.start({"n": "tiny"}, run_id="short")
    engine.work(until_idle=True)
    assert '<details class="full"' not in client.get(f"/runs/{short.id}").text


def drive(engine: Any, run: Any, stop: threading.Event) -> threading.Thread:
    """A worker thread that runs the run, and answers its wait once it waits."""

    def work() -> None:
        time.sleep(0.3)  # the stream sees the run queued first
        worker = threading.Thread(target=engine.work, kwargs={"until_idle": False, "stop": stop})
        worker.start()
        deadline = time.monotonic() + 20
        while run.status().status != "waiting" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # and then sees it waiting
        run.send_event("go", {"note": SCRIPT})
        worker.join()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_the_run_stream_sends_each_change_until_the_run_ends(engine, client):
    shop = engine.agent("shop", tools=["echo"], review="auto")
    shop.submit_plan(MOVING)
    run = shop.start({}, run_id="moving")
    stop = threading.Event()
    thread = drive(engine, run, stop)
    try:
        answer = client.get(f"/live/runs/{run.id}")
    finally:
        time.sleep(0.2)
        stop.set()
        thread.join(timeout=20)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = events_of(answer.text)
    seen = statuses_in(events)
    assert seen[0] == "queued" and seen[-1] == "complete", seen
    assert seen.index("sleeping") < seen.index("waiting") < seen.index("complete"), seen
    assert events[-1] == ("end", "")
    last = events[-2][1]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in last and SCRIPT not in answer.text
    assert client.app.state.live_streams == 0


def test_list_streams_send_their_table_and_end_at_their_lifetime(engine):
    seed_runs(engine, 2)
    app = create_app(engine, live=LiveSettings(interval=0.05, lifetime=0.3, keep_alive=0.1))
    with TestClient(app) as client:
        runs = events_of(client.get("/live/runs", params={"agent": "shop"}).text)
        assert runs[0][0] == "update" and run_ids(runs[0][1]) == ["r01", "r00"]
        assert all(kind == "update" for kind, _ in runs)  # no `end`: the browser reconnects
        body = client.get("/live/plans", params={"status": "approved", "home": "1"}).text
        assert "Refund the order" in events_of(body)[0][1]
        assert ": still here" in body
        assert client.get("/live/runs/nope").status_code == 404


def test_live_streams_and_pages_need_the_token_but_the_script_does_not(engine):
    seed_runs(engine, 1)
    with TestClient(create_app(engine, token="s3cret", live=LiveSettings(lifetime=0.1))) as client:
        assert client.get("/live/runs", headers={"Accept": "text/event-stream"}).status_code == 401
        script = client.get("/static/live.js")
        assert script.status_code == 200 and "EventSource" in script.text
        assert client.get("/static/review.css").status_code == 200
        client.cookies.set(TOKEN_COOKIE, "s3cret")
        stream = client.get("/live/runs")
        assert stream.status_code == 200 and "r00" in stream.text


def test_every_new_page_fragment_and_stream_escapes_untrusted_text(engine, client):
    shop = engine.agent("shop", tools=engine.tools.names(), review="required")
    plan = shop.submit_plan(HOSTILE, goal=SCRIPT)
    engine.reviews.approve(plan.id, reviewer="dana", comment=SCRIPT)
    run = shop.start({"who": SCRIPT}, run_id="hostile")
    engine.work(until_idle=True)
    run.send_event("go", {"payload": "<script>alert(5)</script>"})
    engine.work(until_idle=True)
    assert run.status().status == "errored"
    answers = [
        client.get("/runs"),
        client.get("/runs", params={"q": SCRIPT, "agent": SCRIPT, "from": "", "to": ""}),
        client.get("/runs", params={"q": "<script>"}),
        client.get("/plans", params={"status": "all", "q": SCRIPT, "agent": SCRIPT}),
        client.get("/plans", params={"status": "all"}),
        client.get("/runs", params={"from": SCRIPT}),  # the 400 page repeats the value
        client.get(f"/runs/{run.id}"),
        client.get(f"/plans/{plan.id}"),
        client.get(f"/live/runs/{run.id}"),
    ]
    quick = create_app(engine, live=LiveSettings(interval=0.05, lifetime=0.2))
    with TestClient(quick) as lists:  # list streams end at their lifetime
        answers.append(lists.get("/live/runs", params={"q": "<script>"}))
        answers.append(lists.get("/live/plans", params={"status": "all", "q": SCRIPT}))
    for answer in answers:
        text = answer.text
        for n in range(1, 6):
            assert f"<script>alert({n})" not in text, (answer.url, n)
        assert "<img src=x" not in text and "<b>approve</b>" not in text, answer.url
    run_page = answers[6].text
    assert "&lt;img src=x onerror=alert(2)&gt;" in run_page
    assert "&lt;b&gt;approve&lt;/b&gt;" in run_page
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in run_page  # the event's payload
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in run_page  # the step's error
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answers[7].text  # the comment
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in answers[1].text


def test_a_stream_ends_when_its_client_goes_away(engine):
    """Over a real socket (uvicorn): closing the page ends its stream on the server at once."""
    shop = engine.agent("shop", tools=["echo"], review="auto")
    shop.submit_plan(MOVING)
    run = shop.start({}, run_id="stuck")  # stays queued: no worker, so its stream never ends
    app = create_app(engine, token="s3cret", live=LiveSettings(interval=0.05, lifetime=60))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/live/runs/{run.id}"
        with (
            httpx.Client(cookies={TOKEN_COOKIE: "s3cret"}) as http,
            http.stream("GET", url) as stream,
        ):
            chunks = stream.iter_text()  # kept: a dropped iterator closes the connection
            first = next(chunks)
            assert "event: update" in first and 'id="run-status">queued<' in first
            assert app.state.live_streams == 1
        deadline = time.monotonic() + 5
        while app.state.live_streams and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.state.live_streams == 0
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_http_api_run_list_filters_by_goal_text(engine):
    seed_runs(engine, 3)
    with TestClient(create_server(engine, open_without_tokens=True)) as api:
        page = api.get("/api/v1/runs", params={"goal": "WEEKLY"}).json()
        assert [r["id"] for r in page["items"]] == ["weekly"]
        paged = api.get("/api/v1/runs", params={"goal": "refund", "limit": 2}).json()
        assert [r["id"] for r in paged["items"]] == ["r02", "r01"] and paged["next_cursor"]
        assert api.get("/api/v1/runs", params={"goal": "x" * 201}).status_code == 422
