"""The `agentflow` command, run as a subprocess against a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.host import make_engine, read_ledger

ROOT = Path(__file__).resolve().parents[2]
AGENTFLOW = [sys.executable, "-m", "agentflow.cli"]


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*AGENTFLOW, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_check_prints_diagnostics_in_linter_form(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('import os\n\ndef run(event, step):\n    step.do("x", tools.sendmail)\n')
    proc = cli("check", str(bad), "--tools", "send_email", check=False)
    assert proc.returncode == 1
    lines = proc.stdout.strip().splitlines()
    assert any(line.startswith(f"{bad}:1:") for line in lines), proc.stdout
    assert any(f"{bad}:4:" in line and "send_email" in line for line in lines), proc.stdout


def test_check_prints_the_summary_of_a_good_plan():
    proc = cli(
        "check",
        "cookbook/03_human_approval/plans/order_followup.py",
        "--tools",
        "list_orders",
        "--tools",
        "send_email",
        "--tools",
        "refund",
    )
    assert "refund" in proc.stdout and "high" in proc.stdout.lower()


def test_review_and_runs_commands(sqlite_url, ledger):
    engine = make_engine(sqlite_url)
    agent = engine.agent("cli-agent", tools=engine.tools.names(), review="required")
    plan = agent.submit_plan(
        "def run(event, step):\n"
        '    step.do("hello", tools.echo, 1)\n'
        '    answer = step.wait_for_event("answer", type="reply")\n'
        '    print("got", answer.payload)\n'
        "    return answer.payload\n",
        goal="say hello and wait",
    )
    listed = cli("review", "list", "--db", sqlite_url)
    assert "cli-agent" in listed.stdout and "pending" in listed.stdout
    shown = cli("review", "show", str(plan.id), "--db", sqlite_url)
    assert "wait_for_event" in shown.stdout and "reply" in shown.stdout
    assert "hello" in cli("review", "diff", str(plan.id), "--db", sqlite_url).stdout
    cli("review", "approve", str(plan.id), "--db", sqlite_url, "-r", "dana", "-m", "fine")
    assert engine.get_plan(plan.id).status == "approved"
    assert engine.reviews.decisions(plan.id)[-1]["reviewer"] == "dana"

    run = agent.start(run_id="cli-run-1")
    engine.work()
    listing = cli("runs", "list", "--db", sqlite_url)
    assert "cli-run-1" in listing.stdout and "waiting" in listing.stdout
    cli("runs", "send-event", "cli-run-1", "reply", json.dumps({"ok": True}), "--db", sqlite_url)
    assert run.result(timeout=10) == {"ok": True}
    shown = cli("runs", "show", "cli-run-1", "--db", sqlite_url)
    assert "hello" in shown.stdout and "answer" in shown.stdout and "complete" in shown.stdout
    assert "got {'ok': True}" in shown.stdout
    missing = cli("runs", "show", "nope", "--db", sqlite_url, check=False)
    assert missing.returncode == 1 and "nope" in missing.stdout
    rejected = cli("review", "reject", "999", "--db", sqlite_url, check=False)
    assert rejected.returncode == 1
    engine.close()


def test_demo_runs_a_recipe_end_to_end(tmp_path):
    proc = cli("demo", "--db", f"sqlite:///{tmp_path / 'demo.db'}", "--recipe", "weekly_report")
    assert "complete" in proc.stdout
    assert "email report" in proc.stdout


def test_worker_runs_runs_and_stops_cleanly_on_sigterm(sqlite_url, ledger):
    import signal
    import time

    engine = make_engine(sqlite_url)
    agent = engine.agent("worked", tools=["echo"], review="auto")
    agent.submit_plan('def run(event, step):\n    return step.do("e", tools.echo, 5)\n')
    worker = subprocess.Popen(
        [*AGENTFLOW, "worker", "--db", sqlite_url, "--app", "tests.support.host:make_engine"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run = agent.start()
        deadline = time.monotonic() + 30
        while run.status().status != "complete" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.status().output == 5
        assert run.status().activations == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=20)
    assert worker.returncode == 0, err
    assert "stopped after 1 activations" in out
    engine.close()


def test_run_control_commands(sqlite_url, ledger):
    engine = make_engine(sqlite_url)
    agent = engine.agent("controlled", tools=engine.tools.names(), review="auto")
    agent.submit_plan(
        "def run(event, step):\n"
        '    step.do("one", tools.echo, 1)\n'
        '    step.sleep("nap", "1 hour")\n'
        '    return step.do("two", tools.echo, 2)\n'
    )
    run = agent.start(run_id="ctl-1")
    engine.work()
    assert "paused" in cli("runs", "pause", "ctl-1", "--db", sqlite_url).stdout
    assert "queued" in cli("runs", "resume", "ctl-1", "--db", sqlite_url).stdout
    engine.work()
    assert run.status().status == "sleeping"
    assert "terminated" in cli("runs", "terminate", "ctl-1", "--db", sqlite_url).stdout
    restarted = cli("runs", "restart", "ctl-1", "--from-step", "nap", "--db", sqlite_url)
    assert "queued" in restarted.stdout
    engine.work()
    assert run.status().status == "sleeping"
    assert [e["value"] for e in read_ledger(ledger) if e["tool"] == "echo"] == [1]
    again = cli("runs", "resume", "ctl-1", "--db", sqlite_url, check=False)
    assert again.returncode == 1 and "not paused" in again.stdout
    engine.close()


def test_a_plain_worker_imports_the_tools_a_host_registered(tmp_path):
    """`agentflow worker` with no --app imports module-level tools from where the host had them."""
    import signal
    import time

    (tmp_path / "shop_host.py").write_text(
        "import os\n"
        "from agentflow import Engine\n"
        "engine = Engine(os.environ['AGENTFLOW_DATABASE_URL'])\n"
        "@engine.tool(side_effects=False)\n"
        "def double(x: int) -> int:\n"
        "    return 2 * x\n"
    )
    url = f"sqlite:///{tmp_path / 'tools.db'}"
    env = {**os.environ, "AGENTFLOW_DATABASE_URL": url}
    host = subprocess.run(
        [
            sys.executable,
            "-c",
            "import shop_host\n"
            "agent = shop_host.engine.agent('doubler', tools=['double'], review='auto')\n"
            "agent.submit_plan('def run(event, step):\\n"
            '    return step.do("double", tools.double, 21)\\n\')\n'
            "print(agent.start(run_id='double-1').id)\n",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert host.returncode == 0, host.stderr
    worker = subprocess.Popen(
        # The console script, whose sys.path does not hold the working directory by itself.
        [str(Path(sys.executable).parent / "agentflow"), "worker", "--db", url],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    from agentflow import Engine

    engine = Engine(url)
    try:
        run = engine.get_run("double-1")
        deadline = time.monotonic() + 30
        while not run.status().done and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.status().output == 42
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, err = worker.communicate(timeout=20)
        engine.close()
    assert worker.returncode == 0, err


def test_plan_command_plans_and_runs_a_goal_offline(tmp_path):
    from agentflow.cookbook import RECIPES

    (tmp_path / "kb_host.py").write_text(
        "import os\n"
        "from agentflow import Engine\n"
        "engine = Engine(os.environ['AGENTFLOW_DATABASE_URL'])\n"
        "@engine.tool(side_effects=False)\n"
        "def lookup(topic: str) -> str:\n"
        "    '''Look a topic up.'''\n"
        "    return 'all about ' + topic\n"
        "engine.agent('librarian', tools=['lookup'], review='auto-if-safe')\n"
    )
    url = f"sqlite:///{tmp_path / 'plan.db'}"
    env = {**os.environ, "AGENTFLOW_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("AGENTFLOW_MODEL", None)
    made = subprocess.run(
        [sys.executable, "-c", "import kb_host"], cwd=tmp_path, env=env, timeout=60
    )
    assert made.returncode == 0
    goal = RECIPES["research_digest"].goal
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "agentflow"),
            "plan",
            goal,
            "--agent",
            "librarian",
            "--db",
            url,
            "--param",
            'topics=["tea", "cake"]',
            "--wait",
        ],
        cwd=tmp_path,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recorded reply" in proc.stdout
    assert "complete" in proc.stdout and "all about tea" in proc.stdout


def test_check_takes_tools_as_a_list_in_every_usual_form(tmp_path):
    plan = "cookbook/03_human_approval/plans/order_followup.py"
    for tools in (
        ["--tools", "list_orders", "send_email", "refund"],
        ["--tools", "list_orders,send_email,refund"],
        ["--tools", "list_orders", "--tools", "send_email", "--tools", "refund"],
    ):
        assert "Risk: high" in cli("check", plan, *tools).stdout
    missing = cli("check", plan, "--tools", "list_orders", check=False)
    assert missing.returncode == 1 and "AF150" in missing.stdout
    nothing = cli("check", str(tmp_path / "absent"), check=False)
    assert nothing.returncode == 1 and "no such plan file" in nothing.stdout


def test_review_serve_refuses_to_listen_beyond_loopback_without_a_token(sqlite_url):
    refused = cli("review", "serve", "--db", sqlite_url, "--host", "0.0.0.0", check=False)
    assert refused.returncode == 1 and "--token" in refused.stdout
