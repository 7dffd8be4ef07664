"""The user documentation in `docs/` stays true to the code.

Conventions, for whoever edits `docs/*.md`:

- A fenced block tagged ```` ```python runnable ```` is a complete program: each one runs here in a
  fresh temporary directory, in its own process, with `AGENTFLOW_DATABASE_URL` pointing at a
  SQLite file in that directory, and must exit 0 (use `assert` to check what the text claims).
  Plain ```` ```python ```` blocks are fragments and are not run.
- A ```` ```console ```` block whose first line is `$ agentflow check ...` must show exactly what
  that command prints (run from the repository's root).
- The tables of allow-lists, diagnostic codes, `PlanLimits`, `RuntimeLimits` and `RetryPolicy`
  are compared with the constants in the code.
"""

from __future__ import annotations

import io
import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from agentflow.plan import PlanLimits, policy
from agentflow.plan.lint import check_main
from agentflow.runtime import RetryPolicy, RuntimeLimits

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.S | re.M)


def blocks(tag: str) -> list[tuple[str, int, str]]:
    """(page name, line number, body) of every fenced block whose info string is `tag`."""
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            if match.group(1).strip() == tag:
                line = text.count("\n", 0, match.start()) + 1
                found.append((page.name, line, match.group(2)))
    return found


def ident(block: tuple[str, int, str]) -> str:
    return f"{block[0]}:{block[1]}"


def test_the_four_pages_exist():
    names = {page.name for page in PAGES}
    assert {"plan-language.md", "runtime.md", "operations.md", "planner.md"} <= names


@pytest.mark.parametrize("block", blocks("python runnable"), ids=ident)
def test_runnable_example(block, tmp_path):
    name, line, code = block
    env = {
        **os.environ,
        "AGENTFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'docs.db'}",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("AGENTFLOW_MODEL", None)
    env.pop("AGENTFLOW_PROMPTS_DIR", None)
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, f"{name}:{line} failed:\n{done.stdout}\n{done.stderr}"


@pytest.mark.parametrize("block", blocks("console"), ids=ident)
def test_agentflow_check_output(block):
    lines = block[2].splitlines()
    if not lines[0].startswith("$ agentflow check "):
        pytest.skip("not an `agentflow check` transcript")
    args = shlex.split(lines[0][len("$ agentflow check ") :])
    path, tools = args[0], [v for k, v in itertools.pairwise(args) if k == "--tools"]
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        check_main(path, tools or None, out=out)
    finally:
        os.chdir(cwd)
    assert out.getvalue().splitlines() == lines[1:]


def table_rows(page: str) -> dict[str, str]:
    """First cell -> second cell of every Markdown table row on a page."""
    rows = {}
    for line in (DOCS / page).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2:
            rows.setdefault(cells[0].strip("`"), cells[1])
    return rows


def names_in(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def test_allow_list_table_matches_the_policy():
    rows = table_rows("plan-language.md")
    assert names_in(rows["modules"]) == set(policy.ALLOWED_MODULES)
    assert names_in(rows["builtins"]) == set(policy.SAFE_BUILTINS)
    assert names_in(rows["exceptions"]) == set(policy.ALLOWED_EXCEPTIONS)
    assert names_in(rows["step methods"]) == set(policy.STEP_METHODS)
    assert names_in(rows["retries keys"]) == set(policy.RETRY_KEYS) | set(policy.BACKOFF_STRATEGIES)
    assert names_in(rows["forbidden builtins"]) == set(policy.FORBIDDEN_BUILTINS)


def test_every_diagnostic_code_is_documented():
    emitted = set()
    for source in (ROOT / "agentflow").rglob("*.py"):
        emitted |= set(re.findall(r"\b(AF\d{3})\b", source.read_text()))
    documented = {k for k in table_rows("plan-language.md") if re.fullmatch(r"AF\d{3}", k)}
    assert emitted, "no diagnostic codes found in the code"
    assert documented == emitted


def numbers(cell: str) -> float:
    return float(re.sub(r"[^0-9.]", "", cell.split()[0]))


def test_plan_limits_table_matches_the_defaults():
    rows = table_rows("plan-language.md")
    for name, field in PlanLimits.model_fields.items():
        assert numbers(rows[name]) == field.default, name


def test_runtime_limits_table_matches_the_defaults():
    rows = table_rows("runtime.md")
    defaults = RuntimeLimits()
    for name in RuntimeLimits.__dataclass_fields__:
        assert numbers(rows[name]) == getattr(defaults, name), name


def test_retry_defaults_are_documented():
    rows = table_rows("runtime.md")
    policy_defaults = RetryPolicy()
    assert numbers(rows["limit"]) == policy_defaults.limit
    assert numbers(rows["delay"]) == policy_defaults.delay
    assert rows["backoff"].strip("`") == policy_defaults.backoff
