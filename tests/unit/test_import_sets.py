"""What a process imports on the way to a run's result: a fresh process recovering a run waits
for its own imports, then for its sandbox zygote's.

The zygote starts as `pool.py` starts it (`python -I`, an empty environment); it must not import
pydantic (the public models), SQLAlchemy (the store) or the plan checker, which cost more than
the rest of its imports together. A worker on SQLite does not import SQLAlchemy's PostgreSQL
dialect.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pydantic", "sqlalchemy", "sqlmodel", "agentflow.models", "agentflow.diagnostics")
CHECKER = ("agentflow.plan.compiler", "agentflow.plan.checks", "agentflow.plan.summary")


def _modules_of(module: str, then: str = "") -> set[str]:
    script = f"import sys, json\nimport {module}\n{then}\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True, env={}
    ).stdout
    return set(json.loads(output))


@pytest.mark.parametrize("module", ["agentflow.runtime.sandbox.zygote"])
def test_the_zygote_imports_neither_pydantic_nor_the_store_nor_the_checker(module: str) -> None:
    loaded = _modules_of(module)
    assert "agentflow.runtime.sandbox.child" in loaded
    heavy = sorted(name for name in loaded if name.split(".")[0] in HEAVY or name in HEAVY)
    assert heavy == []
    assert sorted(loaded.intersection(CHECKER)) == []


def test_a_sqlite_store_opens_without_the_postgresql_dialect(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    loaded = _modules_of("agentflow", f"agentflow.Engine({url!r}).close()")
    assert "agentflow.store.tables" in loaded
    assert sorted(name for name in loaded if "postgresql" in name) == []


def test_public_names_still_resolve_where_they_did() -> None:
    from agentflow import Diagnostic, PlanLimits, errors, plan
    from agentflow.models import RunState as ModelsRunState
    from agentflow.runtime.retry import RetryPolicy
    from agentflow.states import RunState

    assert errors.Diagnostic is Diagnostic
    assert plan.PlanLimits is PlanLimits
    assert ModelsRunState is RunState
    assert RetryPolicy.parse({"limit": 2.0, "delay": "1 second"}, "s").limit == 2
    with pytest.raises(ValueError, match="retries must look like"):
        RetryPolicy.parse({"backoff": "random"}, "s")


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_as_it_was_after_the_engine_loads(enabled: bool) -> None:
    script = (
        "import gc\n"
        f"{'gc.enable()' if enabled else 'gc.disable()'}\n"
        "from agentflow import Engine\n"
        "print(gc.isenabled())\n"
    )
    output = subprocess.run(
        [sys.executable, "-I", "-c", script], capture_output=True, text=True, check=True, env={}
    ).stdout
    assert output.strip() == str(enabled)
