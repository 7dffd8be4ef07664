"""The CLI for scripts: `--version`, `--json` on the commands that print data, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.host import make_engine

ROOT = Path(__file__).resolve().parents[2]
WORKER = [sys.executable, "-m", "agentflow.cli", "worker"]
PLAN = 'def run(event, step):\n    return step.wait_for_event("w", type="go").payload\n'


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentflow.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version_and_usage_errors():
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("agentflow ")
    bogus = cli("runs", "list", "--status", "bogus", "--db", "sqlite:///:memory:")
    assert bogus.returncode == 2 and "bogus" in bogus.stderr
    assert cli("runs", "show").returncode == 2


def test_json_output_of_runs_and_reviews(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    with make_engine(db, isolation="inline") as engine:
        agent = engine.agent("acme")
        plan = agent.submit_plan(PLAN, goal="wait")
        engine.reviews.approve(plan.id, reviewer="dana")
        run = agent.start(run_id="r1")
        engine.work()
        assert run.status().status == "waiting"

    listed = json.loads(cli("runs", "list", "--json", "--db", db).stdout)
    assert [(r["id"], r["status"]) for r in listed] == [("r1", "waiting")]
    sent = cli("runs", "send-event", "r1", "go", "7", "--id", "e1", "--json", "--db", db)
    again = cli("runs", "send-event", "r1", "go", "8", "--id", "e1", "--json", "--db", db)
    assert json.loads(sent.stdout)["delivered"] is True
    assert json.loads(again.stdout)["delivered"] is False

    shown = json.loads(cli("review", "show", str(plan.id), "--json", "--db", db).stdout)
    assert shown["status"] == "approved" and shown["decisions"][0]["reviewer"] == "dana"
    plans = json.loads(cli("review", "list", "--all", "--json", "--db", db).stdout)
    assert [p["id"] for p in plans] == [plan.id]
    missing = cli("runs", "show", "nope", "--json", "--db", db)
    assert missing.returncode == 1


def test_check_json_reports_diagnostics_with_lines(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def run(event, step):\n    return tools.nope()\n")
    report = cli("check", str(bad), "--tools", "send_email", "--json")
    assert report.returncode == 1
    data = json.loads(report.stdout)
    assert data["ok"] is False and data["diagnostics"][0]["line"] == 2


def test_the_worker_writes_json_log_lines(tmp_path):
    db = f"sqlite:///{tmp_path / 'worker.db'}"
    with make_engine(db, isolation="inline") as engine:
        agent = engine.agent("acme", tools=["list_orders"], review="auto")
        agent.submit_plan(
            'def run(event, step):\n    return len(step.do("o", tools.list_orders))\n'
        )
        agent.start(run_id="logged")
    worker = subprocess.Popen(
        [*WORKER, "--log-format", "json", "--db", db, "--app", "tests.support.reach_app:engine"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert worker.stderr is not None
        line = json.loads(worker.stderr.readline())
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        if worker.stderr is not None:
            worker.stderr.close()
    assert line["run_id"] == "logged" and line["agent_id"] == "acme"
    assert line["status"] == "complete" and line["level"] == "info" and line["seconds"] >= 0
    assert cli("worker", "--log-format", "xml", "--db", db).returncode == 2
