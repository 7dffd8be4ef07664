"""The README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    monkeypatch.setenv("AGENTFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'readme.db'}")
    namespace: dict = {}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    namespace["engine"].close()
    assert "{'stars': 5}" in capsys.readouterr().out
