"""A reviewer's whole path through the review app, in Debian's Chromium over Playwright.

`agentflow review serve --token` runs in a subprocess; this process plans a goal (a scripted
model, review "required": the run waits for the approval) and runs a worker thread. In the
browser the reviewer signs in, opens the pending plan, dry-runs it and reads the trace, approves
it, watches the run's page follow the run by itself from sleeping to waiting, sends the event
the run waits for from the page, and sees the run complete. One screenshot per page is saved in
the test's `tmp_path` (`pytest --basetemp=DIR` keeps them in DIR).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

from agentflow.planner import plan_and_run
from agentflow.testing import ScriptedModel
from tests.acceptance.test_review_live import TOKEN, _sign_in, patient_expect, served
from tests.acceptance.test_review_web import CHROMIUM, CHROMIUM_ARGS, _require_chromium
from tests.support.host import make_engine

__all__ = ["patient_expect", "served"]  # fixtures used by name below

PLAN = '''"""Greet, nap, then wait for the go-ahead."""


def run(event, step):
    step.do("greet", tools.echo, event.params.get("who"))
    step.sleep("nap", "6 seconds")
    answer = step.wait_for_event("go ahead", type="go", timeout="1 hour")
    return {"answer": answer.payload}
'''
REPLY = f"Here is the plan.\n\n```python\n{PLAN}```\n"
SHOTS = ("signin", "pending", "plan", "simulated", "approved", "sleeping", "waiting", "complete")


def test_sign_in_simulate_approve_watch_the_run_and_answer_its_wait_from_the_page(
    served: tuple[str, str], tmp_path: Path, ledger: Path
) -> None:
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, db = served
    engine = make_engine(db)
    stop = threading.Event()
    worker = threading.Thread(target=engine.work, kwargs={"until_idle": False, "stop": stop})
    try:
        engine.agent("shop", tools=["echo"], review="required")
        planned = plan_and_run(
            "Greet ada, nap, then wait for the go-ahead",
            "shop",
            {"who": "<b>ada</b>"},
            engine=engine,
            model=ScriptedModel([REPLY]),
            run_id="flow",
        )
        assert planned.status == "awaiting_review"
        worker.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(15_000)
                _sign_in(page, base, "/", tmp_path)
                page.screenshot(path=str(tmp_path / "pending.png"), full_page=True)
                page.get_by_role("link", name="Greet ada, nap, then wait for the go-ahead").click()
                expect(page.locator("h1")).to_contain_text("Plan")
                expect(page.get_by_text("<b>ada</b>").first).to_be_visible()  # queued params
                page.screenshot(path=str(tmp_path / "plan.png"), full_page=True)

                page.get_by_role("button", name="Simulate").click()
                result = page.locator("#simulation-result")
                expect(result).to_contain_text(re.compile(r"complete: the run would take 6\.\d+ s"))
                trace = page.locator("#simulation-trace")
                expect(trace.locator("tr.trace-tool")).to_contain_text("echo")
                expect(trace).to_contain_text("go ahead")
                page.screenshot(path=str(tmp_path / "simulated.png"), full_page=True)
                assert not ledger.exists() or '"echo"' not in ledger.read_text()  # no real call

                page.fill("#reviewer", "dana")
                page.fill("#comment", "greets and waits, fine")
                page.get_by_role("button", name="Approve").click()
                expect(page.locator(".notice.ok")).to_contain_text("approved")
                page.screenshot(path=str(tmp_path / "approved.png"), full_page=True)

                page.locator('a[href="/runs/flow"]').first.click()
                status = page.locator("#run-status")
                expect(status).to_have_text("sleeping")
                page.evaluate("window.notReloaded = true")
                page.screenshot(path=str(tmp_path / "sleeping.png"), full_page=True)
                expect(status).to_have_text("waiting")
                expect(page.locator("form#send-event")).to_be_visible()
                assert page.evaluate("window.notReloaded") is True  # the page updated itself
                page.screenshot(path=str(tmp_path / "waiting.png"), full_page=True)

                page.fill("#event-type", "go")
                page.fill("#event-payload", '{"ok": true, "note": "<i>go</i>"}')
                page.get_by_role("button", name="Send event").click()
                page.wait_for_url(f"{base}/runs/flow?done=event")
                expect(page.locator("#run-status")).to_have_text("complete")
                expect(page.locator("#run-live pre").last).to_contain_text("<i>go</i>")
                page.screenshot(path=str(tmp_path / "complete.png"), full_page=True)
                assert page.evaluate("window.notReloaded") is None  # the form's post reloaded
            finally:
                browser.close()
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(timeout=10)
        engine.close()

    engine = make_engine(db)
    try:
        run = engine.get_run("flow")
        assert run.status().output == {"answer": {"ok": True, "note": "<i>go</i>"}}
        kinds = [entry.kind for entry in run.history()]
        assert kinds[0] == "created" and kinds[-1] == "completed"
        [event] = [entry for entry in run.history() if entry.kind == "event"]
        assert event.actor and event.detail["type"] == "go"
        assert TOKEN not in str(event.detail)
        assert ledger.read_text().count('"echo"') == 1  # the real call, once the plan was approved
    finally:
        engine.close()
    for name in SHOTS:
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000
