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
    shown = _agentflow("runs", "show", "r1", "--db", url, cwd=tmp_path)
    assert shown.returncode == 1 and "there is no store at" in shown.stdout
    assert not (tmp_path / "nothing.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_an_empty_store_says_which_store_it_is(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Engine(url, isolation="inline").close()
    listed = _agentflow("runs", "list", "--db", url, cwd=tmp_path)
    assert listed.returncode == 0
    assert f"no runs in the store at {url}" in listed.stderr
