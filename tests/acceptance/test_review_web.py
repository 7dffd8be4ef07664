"""A reviewer in a real browser: `agentflow review serve` in a subprocess, driven by Chromium.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`; `.ci/run` installs
it). Without it the test is skipped locally, and fails under CI so it cannot go missing quietly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.host import make_engine

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

APPROVED = '''"""Greet, then fan out."""

def run(event, step):
    first = step.do("greet", tools.echo, "hello")
    echoed = step.map("echo all", tools.echo, [1, 2, 3])
    return {"first": first, "echoed": echoed}
'''

PENDING = '''"""Greet, then email every customer."""

def run(event, step):
    first = step.do("greet", tools.echo, "hello")
    for order in step.do("fetch open orders", tools.list_orders, status="open"):
        step.do("remind customer", tools.send_email, to=order["email"], subject="Hi", body="x")
    step.sleep("give them a day", "1 day")
    return {"first": first}
'''


def _require_chromium() -> None:
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (pip install -e '.[dev]')"
    if missing and os.environ.get("CI"):
        pytest.fail(f"the browser test must run in CI: {missing}")
    if missing:
        pytest.skip(missing)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`agentflow review serve` on a fresh store; yields (base URL, database URL)."""
    db = f"sqlite:///{tmp_path / 'review.db'}"
    make_engine(db).close()
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentflow.cli", "review", "serve", "--db", db, "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(base + "/api/plans", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("review serve did not answer:\n" + (tmp_path / "serve.log").read_text())
            time.sleep(0.1)
        yield base, db
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _seed(db: str) -> tuple[int, int, str]:
    """An approved plan with a finished run, and a riskier new version awaiting review."""
    engine = make_engine(db)
    try:
        agent = engine.agent("shop", tools=engine.tools.names(), review="required")
        first = agent.submit_plan(APPROVED, goal="greet and echo")
        engine.reviews.approve(first.id, reviewer="dana", comment="fine")
        run = agent.start({"customer": 42}, plan=first.id, run_id="run-1")
        engine.work(until_idle=True)
        pending = agent.submit_plan(PENDING, goal="greet and remind every customer")
        return first.id, pending.id, run.id
    finally:
        engine.close()


def test_a_reviewer_approves_a_plan_and_reads_a_run_timeline(
    server: tuple[str, str], tmp_path: Path, ledger: Path
) -> None:
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, db = server
    _approved_id, plan_id, run_id = _seed(db)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(5000)
            page.goto(base + "/")
            expect(page.locator("h1")).to_have_text("Plans awaiting review")
            row = page.locator("table.plans tbody tr")
            expect(row).to_have_count(1)
            expect(row.locator(".badge.risk-high")).to_have_text("high")

            row.get_by_role("link", name="greet and remind every customer").click()
            page.wait_for_url(f"{base}/plans/{plan_id}")
            expect(page.locator("#plan-risk")).to_have_text("risk: high")
            expect(page.locator("#plan-status")).to_have_text("pending")
            diff = page.locator("table.diff")
            expect(diff.locator("tr.file").first).to_contain_text("shop v1")
            expect(diff.locator("tr.add", has_text="tools.send_email")).to_have_count(1)
            expect(diff.locator("tr.remove", has_text="step.map")).to_have_count(1)
            page.screenshot(path=str(tmp_path / "plan.png"), full_page=True)

            page.fill("#reviewer", "dana")
            page.fill("#comment", "one email per open order is fine")
            page.get_by_role("button", name="Approve").click()
            page.wait_for_url(f"{base}/plans/{plan_id}?done=approved")
            expect(page.locator("#plan-status")).to_have_text("approved")
            expect(page.get_by_role("status")).to_contain_text("approved")
            expect(page.locator("table.decisions")).to_contain_text("dana")
            page.screenshot(path=str(tmp_path / "approved.png"), full_page=True)

            page.get_by_role("link", name="Runs", exact=True).click()
            page.wait_for_url(f"{base}/runs")
            page.get_by_role("link", name=run_id).click()
            page.wait_for_url(f"{base}/runs/{run_id}")
            expect(page.locator("#run-status")).to_have_text("complete")
            timeline = page.locator("table.timeline tbody tr")
            expect(timeline).to_have_count(5)
            expect(page.locator("table.timeline tr.depth-1")).to_have_count(3)
            expect(timeline.nth(2)).to_contain_text("echo all[0]")
            page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
        finally:
            browser.close()

    engine = make_engine(db)
    try:
        assert engine.get_plan(plan_id).status == "approved"
        decision = engine.reviews.decisions(plan_id)[-1]
        assert decision["reviewer"] == "dana"
        assert decision["comment"] == "one email per open order is fine"
    finally:
        engine.close()
    assert (tmp_path / "approved.png").stat().st_size > 10_000


XSS = "<img src=x onerror=window.__xss=1>"


def test_a_reviewer_sees_why_a_repair_is_risky_and_a_second_reviewer_must_approve_it(
    server: tuple[str, str], tmp_path: Path
) -> None:
    """The split-payment repair: its context on the page, then the two-person rule, all escaped."""
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    from tests.support import split_payment

    base, db = server
    seeding = split_payment.build_engine(db)
    run, repaired = split_payment.refused_and_repaired(
        seeding, invoice=XSS, review="required", approvals={"high": 2}
    )
    seeding.close()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(5000)
            page.goto(f"{base}/plans/{repaired.id}")
            expect(page.locator("#approvals")).to_contain_text("0 of 2 approvals")
            flagged = page.locator("#risk-changes")
            expect(flagged).to_contain_text("'pay' is called 5 times (in a loop) instead of once")
            expect(flagged).to_contain_text("changed from 500 to 100")
            expect(flagged).to_contain_text("the original (v1) was refused")
            expect(page.locator("#repair-error")).to_contain_text("the limit is 100 per payment")
            expect(page.locator("#repair-kept")).to_have_text("look up invoice")
            expect(page.locator("#queued-params")).to_contain_text(XSS)  # shown as text
            expect(page.locator("#changes")).to_contain_text("step 'pay part' added (line 9)")
            page.screenshot(path=str(tmp_path / "repair-context.png"), full_page=True)

            page.fill("#reviewer", "dana")
            page.fill("#comment", XSS)
            page.get_by_role("button", name="Approve").click()
            page.wait_for_url(f"{base}/plans/{repaired.id}?done=pending")
            expect(page.get_by_role("status")).to_contain_text("1 of 2 approvals")
            expect(page.locator("table.decisions")).to_contain_text(XSS)

            page.fill("#reviewer", "dana")
            page.get_by_role("button", name="Approve").click()
            expect(page.get_by_role("alert")).to_contain_text("already approved plan version")
            expect(page.locator("#plan-status")).to_have_text("pending")

            page.fill("#reviewer", "lee")
            page.get_by_role("button", name="Approve").click()
            page.wait_for_url(f"{base}/plans/{repaired.id}?done=approved")
            expect(page.locator("#plan-status")).to_have_text("approved")
            page.screenshot(path=str(tmp_path / "two-approvals.png"), full_page=True)
            assert page.evaluate("window.__xss") is None
        finally:
            browser.close()

    engine = split_payment.build_engine(db)
    try:
        assert [d["reviewer"] for d in engine.reviews.decisions(repaired.id)] == ["dana", "lee"]
        assert engine.get_run(run.id).status().plan_id == repaired.id  # restarted on it
    finally:
        engine.close()
    assert (tmp_path / "repair-context.png").stat().st_size > 10_000


WAITS = '''"""Wait for a reply, then thank."""

def run(event, step):
    answer = step.wait_for_event("answer", type="reply", timeout="2 hours")
    step.do("thank", tools.echo, answer.payload)
    return answer.payload
'''
SCRIPT = "<script>alert(1)</script>"


def test_a_reviewer_acts_on_a_run_from_its_page_and_its_history_stays_escaped(
    server: tuple[str, str], tmp_path: Path, ledger: Path
) -> None:
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, db = server
    engine = make_engine(db)
    try:
        agent = engine.agent("shop", tools=engine.tools.names(), review="auto")
        agent.submit_plan(WAITS, goal=SCRIPT)
        run = agent.start({"note": SCRIPT}, run_id="run-acts")
        engine.work(until_idle=True)
        run.pause(actor=SCRIPT, reason=SCRIPT)
        run.resume(actor="dana", reason="fine")
        run.send_event("other", {"html": SCRIPT}, actor=SCRIPT)
        engine.work(until_idle=True)
    finally:
        engine.close()

    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(5000)
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(f"{base}/runs/run-acts")
            expect(page.locator("#run-status")).to_have_text("waiting")
            history = page.locator("table.history")
            expect(history.locator("tr.history-paused")).to_contain_text(SCRIPT)
            expect(history.locator("tr.history-event")).to_contain_text('{"html": "<script>')
            expect(page.locator("form#resume-run")).to_have_count(0)  # not paused: no resume

            # A payload that is not JSON is stopped in the browser, before it is sent.
            page.fill("#event-type", "reply")
            page.fill("#event-payload", '{"ok": tru}')
            page.get_by_role("button", name="Send event").click()
            expect(page).to_have_url(f"{base}/runs/run-acts")
            message = page.eval_on_selector("#event-payload", "area => area.validationMessage")
            assert "not valid JSON" in message
            page.fill("#event-payload", '{"ok": true, "note": "<b>fine</b>"}')
            page.get_by_role("button", name="Send event").click()
            page.wait_for_url(f"{base}/runs/run-acts?done=event")
            expect(page.locator(".notice.ok")).to_contain_text("event sent")

            page.fill("#pause-reason", "check the note first")
            page.get_by_role("button", name="Pause").click()
            page.wait_for_url(f"{base}/runs/run-acts?done=pause")
            expect(page.locator("#run-status")).to_have_text("paused")
            expect(history.locator("tr.history-paused").last).to_contain_text(
                "check the note first"
            )
            expect(page.locator("form#resume-run")).to_have_count(1)
            page.screenshot(path=str(tmp_path / "run-actions.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == [], "a script from the store ran in the page"

    engine = make_engine(db)
    try:
        run = engine.get_run("run-acts")
        entries = run.history()
        event = [e for e in entries if e.kind == "event"][-1]
        assert (event.actor, event.detail["payload"]) == (
            "web",
            {"ok": True, "note": "<b>fine</b>"},
        )
        assert (entries[-1].kind, entries[-1].actor, entries[-1].reason) == (
            "paused",
            "web",
            "check the note first",
        )
        run.resume(actor="test")
        assert run.result(timeout=30) == {"ok": True, "note": "<b>fine</b>"}
    finally:
        engine.close()
