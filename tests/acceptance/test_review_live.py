"""The review app's live pages in a real browser: `agentflow review serve --token` in a
subprocess, driven by Debian's Chromium through Playwright.

A reviewer signs in with the token, searches and pages the run list, reads times in the
browser's own time zone, and watches a run's page follow the run from queued to sleeping to
waiting to complete while a worker thread in this process drives it, without reloading.

Screenshots: each test saves one PNG per page it visits in its pytest `tmp_path` (for example
`/tmp/pytest-of-$USER/pytest-current/test_..._0/`; pytest keeps the last three runs, and
`pytest --basetemp=DIR` puts them in DIR).
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.acceptance.test_review_web import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    _free_port,
    _require_chromium,
)
from tests.support.host import make_engine

TOKEN = "s3cret-live"
ECHO = 'def run(event, step):\n    return step.do("echo", tools.echo, event.params.get("n"))\n'
MOVING = """def run(event, step):
    step.do("greet", tools.echo, "hi")
    step.sleep("nap", "6 seconds")  # long enough to be seen on a loaded machine
    answer = step.wait_for_event("go ahead", type="go", timeout="1 hour")
    return {"answer": answer.payload}
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`agentflow review serve --token` on a fresh store; yields (base URL, database URL)."""
    db = f"sqlite:///{tmp_path / 'live.db'}"
    make_engine(db).close()
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    command = [sys.executable, "-m", "agentflow.cli", "review", "serve", "--db", db]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--token", TOKEN],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(base + "/static/live.js", timeout=1) as answer:
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


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """Assertions wait up to 20 s (a run takes its time: a 6-second nap, then a wait)."""
    try:
        from playwright.sync_api import expect
    except ImportError:  # the tests skip themselves
        yield
        return
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=None)  # back to Playwright's default for other tests


def _sign_in(page: Any, base: str, path: str, shots: Path) -> None:
    page.goto(base + path)
    page.get_by_label("Token").fill(TOKEN)
    page.screenshot(path=str(shots / "signin.png"), full_page=True)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + path)


def test_a_reviewer_signs_in_searches_pages_and_reads_local_times(
    served: tuple[str, str], tmp_path: Path, ledger: Path
) -> None:
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, db = served
    engine = make_engine(db)
    try:
        shop = engine.agent("shop", tools=["echo"], review="auto")
        ops = engine.agent("ops", tools=["echo"], review="auto")
        shop.submit_plan(ECHO, goal="Refund the order")
        ops.submit_plan(ECHO + "# r\n", goal="Weekly report")
        for i in range(7):
            shop.start({"n": i}, run_id=f"r{i}")
        ops.start({"n": 0}, run_id="weekly")
        engine.work(until_idle=True)
    finally:
        engine.close()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 900}
            )
            page: Any = context.new_page()
            page.set_default_timeout(10_000)
            _sign_in(page, base, "/runs?per=10", tmp_path)
            rows = page.locator("table.runs tbody tr")
            expect(rows).to_have_count(8)

            page.get_by_label("agent", exact=True).select_option("shop")
            page.get_by_label("goal contains").fill("REFUND")
            page.get_by_label("per page").select_option("10")
            page.get_by_role("button", name="Search").click()
            expect(rows).to_have_count(7)
            page.goto(page.url.replace("per=10", "per=3"))
            expect(rows).to_have_count(3)
            expect(rows.first).to_contain_text("r6")
            page.screenshot(path=str(tmp_path / "runs-page-1.png"), full_page=True)

            page.get_by_role("link", name="Older →").click()
            expect(rows.first).to_contain_text("r3")
            assert "q=REFUND" in page.url and "agent=shop" in page.url
            expect(page.get_by_label("goal contains")).to_have_value("REFUND")
            page.screenshot(path=str(tmp_path / "runs-page-2.png"), full_page=True)
            page.get_by_role("link", name="Older →").click()
            expect(rows).to_have_count(1)
            page.get_by_role("link", name="← Newer").click()
            expect(rows.first).to_contain_text("r3")

            stamp = page.locator("table.runs time[data-local]").first
            expect(stamp).to_contain_text(re.compile(r"ago|just now"))
            iso = stamp.get_attribute("datetime")
            tokyo = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(
                ZoneInfo("Asia/Tokyo")
            )
            expect(stamp).to_contain_text(tokyo.strftime("%Y-%m-%d %H:%M:%S"))
            assert stamp.get_attribute("title").endswith(" UTC")

            page.get_by_label("from").fill("someday")
            page.get_by_role("button", name="Search").click()
            expect(page.locator("h1")).to_have_text("Bad request")
            expect(page.locator(".notice.error")).to_contain_text("from: 'someday'")
            page.screenshot(path=str(tmp_path / "bad-filter.png"), full_page=True)

            page.goto(base + "/plans?status=all&q=weekly")
            expect(page.locator("table.plans tbody tr")).to_have_count(1)
            page.screenshot(path=str(tmp_path / "plans.png"), full_page=True)
        finally:
            browser.close()
    for name in ("signin", "runs-page-1", "runs-page-2", "bad-filter", "plans"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000


def test_the_run_page_follows_the_run_by_itself_and_the_pending_list_refreshes(
    served: tuple[str, str], tmp_path: Path, ledger: Path
) -> None:
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    base, db = served
    engine = make_engine(db)
    stop = threading.Event()
    worker = threading.Thread(target=engine.work, kwargs={"until_idle": False, "stop": stop})
    try:
        shop = engine.agent("shop", tools=["echo"], review="required")
        engine.reviews.approve(shop.submit_plan(MOVING, goal="greet, nap, wait").id, "dana")
        run = shop.start({"who": "<b>ada</b>"}, run_id="moving")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page: Any = context.new_page()
                page.set_default_timeout(15_000)
                _sign_in(page, base, f"/runs/{run.id}", tmp_path)
                status = page.locator("#run-status")
                expect(status).to_have_text("queued")
                page.evaluate("window.notReloaded = true")
                page.screenshot(path=str(tmp_path / "run-queued.png"), full_page=True)

                worker.start()
                expect(status).to_have_text("sleeping")
                expect(page.locator("svg.waterfall")).to_be_visible()
                page.screenshot(path=str(tmp_path / "run-sleeping.png"), full_page=True)
                expect(status).to_have_text("waiting")
                expect(page.locator("table.timeline")).to_contain_text("go ahead")
                page.screenshot(path=str(tmp_path / "run-waiting.png"), full_page=True)

                run.send_event("go", {"note": "<script>alert(1)</script>"})
                expect(status).to_have_text("complete")
                expect(page.locator("#run-live")).to_have_attribute("data-ended", "")
                expect(page.locator("#live-note")).to_have_text("Run status: complete")
                expect(page.locator("#run-live pre").last).to_contain_text("<script>alert(1)")
                assert page.evaluate("window.notReloaded") is True
                assert page.evaluate("document.querySelectorAll('script').length") == 1
                page.screenshot(path=str(tmp_path / "run-complete.png"), full_page=True)

                home = context.new_page()
                home.set_default_timeout(15_000)
                home.goto(base + "/")
                expect(home.get_by_text("Nothing awaits review.")).to_be_visible()
                shop.submit_plan(MOVING + "# v2\n", goal="a second version to review")
                expect(home.locator("table.plans tbody tr")).to_have_count(1)
                expect(home.locator("table.plans")).to_contain_text("a second version")
                home.screenshot(path=str(tmp_path / "pending-refreshed.png"), full_page=True)

                dark = browser.new_context(
                    color_scheme="dark", viewport={"width": 1280, "height": 900}
                )
                night: Any = dark.new_page()
                night.set_default_timeout(15_000)
                _sign_in(night, base, f"/runs/{run.id}", tmp_path)
                # The stream's first update replaces the region: read the bars after it ended.
                expect(night.locator("#run-live")).to_have_attribute("data-ended", "")
                background = night.evaluate("getComputedStyle(document.body).backgroundColor")
                assert background == "rgb(13, 17, 23)"
                bar = night.locator("svg.waterfall .wf-complete rect").first
                assert bar.evaluate("r => getComputedStyle(r).fill") == "rgb(63, 185, 80)"
                night.keyboard.press("Tab")
                skip = night.locator("a.skip")
                expect(skip).to_be_focused()
                expect(skip).to_be_visible()
                night.screenshot(path=str(tmp_path / "run-dark.png"), full_page=True)
            finally:
                browser.close()
    finally:
        stop.set()
        if worker.is_alive():
            worker.join(timeout=10)
        engine.close()
    assert run.key  # the handle outlived the engine only for its key
    for name in ("queued", "sleeping", "waiting", "complete", "dark"):
        assert (tmp_path / f"run-{name}.png").stat().st_size > 5_000
