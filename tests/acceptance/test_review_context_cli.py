"""`agentflow review show` tells a reviewer what a repaired plan changed, as text and as JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.serve import ROOT

pytestmark = pytest.mark.slow


def agentflow(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "agentflow.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_review_show_gives_the_repair_the_changed_calls_and_the_approvals(tmp_path):
    db = f"sqlite:///{tmp_path / 'pay.db'}"
    made = subprocess.run(
        [sys.executable, "-m", "tests.support.split_payment", db],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    run_id, plan_id = made.stdout.split()

    shown = json.loads(agentflow("review", "show", plan_id, "--db", db, "--json"))
    assert shown["approvals"] == "0 of 2 approvals"
    context = shown["context"]
    assert context["queued_run_id"] == run_id == context["repair"]["run_id"]
    assert context["queued_params"] == {"invoice": "INV-7"}
    assert context["repair"]["kept_steps"] == ["look up invoice"]
    assert "payment of 500 refused" in context["repair"]["error"]["message"]
    assert "step 'pay part' added (line 9)" in context["changes"]
    assert context["risk_reasons"][0] == (
        "side-effecting tool 'pay' is called 5 times (in a loop) instead of once"
    )

    text = " ".join(agentflow("review", "show", plan_id, "--db", db).split())
    assert "0 of 2 approvals" in text
    assert f'approving restarts run {run_id} with params {{"invoice": "INV-7"}}' in text
    assert "keeps: look up invoice" in text
    assert "! pay(amount=...) changed from 500 to 100" in text
    assert "the original (v1) was refused" in text
    assert "what changed against v1 (the plan it repairs):" in text

    listed = agentflow("review", "list", "--db", db)
    assert "0 of 2" in listed
