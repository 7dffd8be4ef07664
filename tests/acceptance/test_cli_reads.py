"""Commands that only read never create a store, and say which store they looked at."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agentflow import Engine


def _agentflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentflow.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_reading_a_store_that_does_not_exist_creates_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'nothing.db'}"
    for command in (["runs", "list"], ["review", "list"]):
        table = _agentflow(*command, "--db", url, cwd=tmp_path)
        assert table.returncode == 0, table.stderr
        assert f"there is no store at {url}" in table.stderr
        as_json = _agentflow(*command, "--db", url, "--json", cwd=tmp_path)
        assert json.loads(as_json.stdout) == []
    for command in (["runs", "show", "r1"], ["runs", "history", "r1"]):
        shown = _agentflow(*command, "--db", url, cwd=tmp_path)
        assert shown.returncode == 1 and "there is no store at" in shown.stdout
    assert not (tmp_path / "nothing.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_an_empty_store_says_which_store_it_is(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Engine(url, isolation="inline").close()
    listed = _agentflow("runs", "list", "--db", url, cwd=tmp_path)
    assert listed.returncode == 0
    assert f"no runs in the store at {url}" in listed.stderr


def test_runs_history_lists_every_change_with_who_and_why(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = Engine(url, isolation="inline")
    agent = engine.agent("acme", review="auto")
    agent.submit_plan(
        'def run(event, step):\n    return step.wait_for_event("ok", type="go")["payload"]\n'
    )
    run = agent.start({"n": 1}, run_id="r1")
    engine.work(until_idle=True)
    engine.close()

    sent = _agentflow(
        "runs", "send-event", "r1", "go", '{"x": 1}', "--actor", "ops", "--db", url, cwd=tmp_path
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    paused = _agentflow(
        "runs",
        "pause",
        "r1",
        "--reason",
        "look first",
        "--actor",
        "dana",
        "--db",
        url,
        cwd=tmp_path,
    )
    assert paused.returncode == 0, paused.stdout + paused.stderr
    as_json = _agentflow("runs", "history", "r1", "--db", url, "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    entries = json.loads(as_json.stdout)
    assert [e["kind"] for e in entries] == ["created", "claimed", "suspended", "event", "paused"]
    assert entries[3]["actor"] == "ops" and entries[3]["detail"]["payload"] == {"x": 1}
    assert (entries[4]["actor"], entries[4]["reason"]) == ("dana", "look first")
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    table = _agentflow("runs", "history", "r1", "--db", url, cwd=tmp_path)
    assert table.returncode == 0
    assert "look first" in table.stdout and "waiting for event 'go'" in table.stdout
    missing = _agentflow("runs", "history", "nope", "--db", url, cwd=tmp_path)
    assert missing.returncode == 1 and "nope" in missing.stdout
    assert run.id == "r1"
