"""The reviewer's context on the plan page, in `engine.reviews.context` and in the two-person rule.

Through FastAPI's TestClient on a real SQLite store.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agentflow import plan_and_run, repair
from agentflow.planner import RecordedModel
from agentflow.review.web import create_app
from agentflow.testing import ScriptedModel
from tests.support import split_payment

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

HIGH = """
def run(event, step):
    for order in step.do("orders", tools.list_orders):
        step.do("refund", tools.refund, order_id=order["id"])
    return event.params
"""

# Step names, the tool's error and the queued params all carry markup; none may reach the page raw.
FAILS = """
def run(event, step):
    step.do("<b>fetch</b>", tools.list_orders)
    step.do("boom", tools.reject, "<script>alert(1)</script>")
"""
REPAIRS = """
def run(event, step):
    step.do("<b>fetch</b>", tools.list_orders)
    step.do("<script>alert(1)</script>", tools.echo, "ok")
"""


def text_of(page: str) -> str:
    """The page's visible text, entities decoded, whitespace collapsed."""
    body = page.split("<main>", 1)[-1]
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", body).split()))


@pytest.fixture
def payments(tmp_path: Path) -> Iterator[tuple[Any, TestClient, Any, Any]]:
    engine = split_payment.build_engine(f"sqlite:///{tmp_path / 'pay.db'}")
    run, repaired = split_payment.refused_and_repaired(
        engine, review="required", approvals={"high": 2}
    )
    with TestClient(create_app(engine)) as client:
        yield engine, client, run, repaired
    engine.close()


def test_a_split_payment_repair_says_the_count_and_amount_changed_and_the_original_was_refused(
    payments,
):
    _engine, client, _run, repaired = payments
    source = client.get(f"/plans/{repaired.id}").text
    page = text_of(source)
    assert "side-effecting tool 'pay' is called 5 times (in a loop) instead of once" in page
    assert "pay(amount=...) changed from 500 to 100: 5 x 100 = 500 in all" in page
    assert "the original (v1) was refused: run pay-inv-7 failed at step 'pay invoice'" in page
    assert "payment of 500 refused: the limit is 100 per payment" in page
    # the repair: which run, which error, which checkpoints are reused
    repair_part = text_of(source.split('id="repair"', 1)[1].split("</dl>", 1)[0])
    assert "pay-inv-7 (errored, on v1)" in repair_part
    assert "StepFailed" in repair_part and "look up invoice" in repair_part
    assert "restarts run pay-inv-7" in page
    assert '"invoice": "INV-7"' in page
    # "what changed" sits above the diff, in words
    assert source.index('id="what-changed"') < source.index("Diff against the last approved plan")
    assert "step 'pay part' added (line 9)" in page and "step 'pay invoice' removed" in page
    assert "0 of 2 approvals" in page


def test_the_context_is_the_same_through_the_python_api(payments):
    engine, _client, run, repaired = payments
    context = engine.reviews.context(repaired.id)
    assert context.base_plan_id == repaired.parent_id
    assert context.base_reason == "the plan it repairs"
    assert context.queued_run_id == run.id and context.queued_params == {"invoice": "INV-7"}
    assert context.repair is not None and context.repair.kept_steps == ["look up invoice"]
    assert context.repair.failed_step == "pay invoice"
    assert len(context.risk_reasons) == 3


def test_one_approval_of_two_is_recorded_and_shown_and_the_same_reviewer_is_refused(payments):
    _engine, client, run, repaired = payments
    first = client.post(
        f"/plans/{repaired.id}/approve", data={"reviewer": "dana", "comment": SCRIPT}
    )
    assert first.status_code == 200
    assert "this plan is pending (1 of 2 approvals: another reviewer must approve" in text_of(
        first.text
    )
    assert SCRIPT not in first.text and ESCAPED in first.text  # the comment, escaped
    again = client.post(f"/plans/{repaired.id}/approve", data={"reviewer": "dana", "comment": ""})
    assert again.status_code == 409
    assert "already approved plan version" in text_of(again.text)
    assert run.status().status == "errored"
    done = client.post(f"/plans/{repaired.id}/approve", data={"reviewer": "lee", "comment": "ok"})
    assert "this plan is approved" in text_of(done.text)
    assert run.result(timeout=20)["paid"][-1]["amount"] == 100


def test_queued_params_errors_and_step_names_are_escaped(engine, tmp_path):
    shop = engine.agent("shop", tools=engine.tools.names(), review="required")
    model = ScriptedModel([f"```python\n{HIGH}```"])
    queued = plan_and_run(SCRIPT, shop, {"note": SCRIPT}, engine=engine, model=model)
    failing = shop.submit_plan(FAILS, goal="fails")
    engine.reviews.approve(failing.id, reviewer="dana", comment=SCRIPT)
    broken = shop.start({"who": SCRIPT}, plan=failing, run_id="broken")
    engine.work(until_idle=True)
    assert broken.status().status == "errored"
    fixed = repair(
        broken.id, engine=engine, model=RecordedModel(f"```python\n{REPAIRS}```", "fails")
    )
    with TestClient(create_app(engine)) as client:
        for plan_id in (queued.plan.id, fixed.id):
            shown = client.get(f"/plans/{plan_id}").text
            assert SCRIPT not in shown and "<b>fetch</b>" not in shown
            assert ESCAPED in shown
        repaired_page = client.get(f"/plans/{fixed.id}").text
        kept = repaired_page.split('id="repair-kept"', 1)[1].split("</dd>", 1)[0]
        assert "&lt;b&gt;fetch&lt;/b&gt;" in kept
        error = repaired_page.split('id="repair-error"', 1)[1].split("</dd>", 1)[0]
        assert ESCAPED in error
        queued_page = client.get(f"/plans/{queued.plan.id}").text
        params = queued_page.split('id="queued-params"', 1)[1].split("</pre>", 1)[0]
        assert ESCAPED in params


def test_a_planned_version_gives_its_queued_run_and_what_changed_since_the_last_approved(engine):
    shop = engine.agent("shop", tools=engine.tools.names(), review="required")
    first = shop.submit_plan(
        'def run(event, step):\n    return step.do("orders", tools.list_orders)\n'
    )
    alone = engine.reviews.context(first.id)
    assert alone.base_plan_id is None and alone.base_reason == "no earlier plan to compare with"
    assert alone.queued_run_id is None and alone.repair is None and alone.changes == []
    engine.reviews.approve(first.id, reviewer="dana")

    model = ScriptedModel([f"```python\n{HIGH}```"])
    queued = plan_and_run("Refund", shop, {"batch": 7}, engine=engine, model=model)
    context = engine.reviews.context(queued.plan.id)
    assert context.queued_run_id == queued.run_id and context.queued_params == {"batch": 7}
    assert (context.base_plan_id, context.base_reason) == (first.id, "the last approved plan")
    assert context.changes == [
        "step 'refund' added (line 3)",  # the planner stores the reply's code block trimmed
        "tool 'refund' added (side effects)",
    ]
    assert context.risk_reasons == []  # no side-effecting call both versions make
    engine.reviews.approve(queued.plan.id, reviewer="dana")
    assert engine.reviews.context(queued.plan.id).queued_run_id is None  # started
