"""`agentflow check`'s implementation: linter lines or a summary."""

from __future__ import annotations

import io
from pathlib import Path

from agentflow.plan.lint import check_main


def test_invalid_plan_prints_linter_lines(tmp_path: Path) -> None:
    path = tmp_path / "plan.py"
    path.write_text("import os\ndef run(event, step):\n    return tools.x(1)\n")
    out = io.StringIO()
    assert check_main(str(path), ["send_email"], out=out) == 1
    lines = out.getvalue().splitlines()
    assert f"{path}:1:1: AF130" in lines[0] and any(":3:12: AF150" in x for x in lines)


def test_valid_plan_prints_summary(tmp_path: Path) -> None:
    path = tmp_path / "plan.py"
    path.write_text('"""Hi."""\ndef run(event, step):\n    return step.do("go", tools.anything)\n')
    out = io.StringIO()
    assert check_main(str(path), None, out=out) == 0
    text = out.getvalue()
    assert "Risk: medium" in text and "step.do 'go'" in text


def test_missing_file(tmp_path: Path) -> None:
    out = io.StringIO()
    assert check_main(str(tmp_path / "none.py"), None, out=out) == 1
    assert "AF000" in out.getvalue()
