"""The two-person rule through a real `agentflow serve` with two reviewer tokens.

The planner queued a run for a high-risk plan under `approvals={"high": 2}`: one reviewer's
approval leaves it pending ("1 of 2 approvals") with no run, the same reviewer again gets a 409,
and a second reviewer's approval starts the queued run, which the server's worker completes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest

from agentflow import plan_and_run
from agentflow.testing import ScriptedModel
from agentflow.tokens import Tokens
from tests.support.reach_app import engine as make_host
from tests.support.serve import ROOT, serving

pytestmark = pytest.mark.slow

HIGH = """
def run(event, step):
    orders = step.do("orders", tools.list_orders)
    for order in orders:
        step.do("refund", tools.refund, order_id=order["id"])
    return {"refunded": len(orders), "why": event.params["why"]}
"""


def cli(*args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "agentflow.cli", *args, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def test_two_reviewers_approve_a_high_risk_plan_over_http_and_the_same_one_twice_is_refused(
    tmp_path,
):
    db = f"sqlite:///{tmp_path / 'serve.db'}"
    host = make_host(db)
    shop = host.agent(
        "shop", tools=["list_orders", "refund"], review="required", approvals={"high": 2}
    )
    model = ScriptedModel([f"```python\n{HIGH}```"])
    queued = plan_and_run("Refund open orders", shop, {"why": "recall"}, engine=host, model=model)
    assert queued.status == "awaiting_review"
    tokens = Tokens(host)
    secret = {
        "dana": tokens.create("reviewer", name="dana")[0],
        "lee": tokens.create("reviewer", name="lee")[0],
    }
    host.close()
    plan_id, run_id = queued.plan.id, queued.run_id

    def http(who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {secret[who]}"}
        return httpx.Client(base_url=base + "/api/v1", headers=headers, timeout=30)

    with serving(db) as base, http("dana") as dana, http("lee") as lee:
        before = dana.get(f"/plans/{plan_id}").json()
        assert (before["approvals_given"], before["approvals_required"]) == (0, 2)
        assert before["context"]["queued_run_id"] == run_id
        assert before["context"]["queued_params"] == {"why": "recall"}

        first = dana.post(f"/plans/{plan_id}/approve", json={"comment": "refunds look right"})
        assert first.status_code == 200, first.text
        body = first.json()
        assert body["status"] == "pending"
        assert (body["approvals_given"], body["approvals_required"]) == (1, 2)
        time.sleep(0.5)  # the server's worker would have started a run by now
        assert dana.get(f"/runs/{run_id}").status_code == 404

        listed = cli("review", "list", "--db", db)
        assert [(p["id"], p["approvals_given"], p["approvals_required"]) for p in listed] == [
            (plan_id, 1, 2)
        ]

        again = dana.post(f"/plans/{plan_id}/approve", json={"comment": "me again"})
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert "already approved" in again.json()["detail"]
        assert "another reviewer" in again.json()["detail"]

        second = lee.post(f"/plans/{plan_id}/approve", json={"comment": "agreed"})
        assert second.status_code == 200, second.text
        assert second.json()["status"] == "approved" and second.json()["decided_by"] == "lee"

        deadline = time.monotonic() + 30
        while (status := lee.get(f"/runs/{run_id}").json()).get("status") != "complete":
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert status["output"] == {"refunded": 2, "why": "recall"}

        detail = lee.get(f"/plans/{plan_id}").json()
        assert [(d["reviewer"], d["comment"]) for d in detail["decisions"]] == [
            ("dana", "refunds look right"),
            ("lee", "agreed"),
        ]
