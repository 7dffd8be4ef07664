"""What a recovering process imports before a run's result: its own modules, then its sandbox
zygote's. A fresh process waits for both.

The zygote starts as `pool.py` starts it (`python -I`, an empty environment); it imports no
database code, no pydantic (the public models) and not the plan checker, which would cost more
than the rest of its imports together. A worker on SQLite does not import SQLAlchemy's
PostgreSQL dialect.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import agentflow.runtime

NOT_IN_THE_ZYGOTE = ("sqlalchemy", "sqlmodel", "psycopg", "pydantic", "pydantic_core")
NOT_IN_THE_ZYGOTE_OF_AGENTFLOW = (
    "agentflow.store",
    "agentflow.runtime.worker",
    "agentflow.models",
    "agentflow.diagnostics",
    "agentflow.plan.compiler",
    "agentflow.plan.checks",
    "agentflow.plan.summary",
)


def _modules_after(script: str) -> set[str]:
    """The modules a fresh `python -I` (no environment) has loaded after `script`."""
    probe = f"import sys, json\n{script}\nprint(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True, env={}
    ).stdout
    return set(json.loads(output))


def test_the_sandbox_zygote_imports_neither_the_store_nor_pydantic_nor_the_checker():
    loaded = _modules_after("import agentflow.runtime.sandbox.zygote")
    assert "agentflow.runtime.sandbox.child" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in NOT_IN_THE_ZYGOTE) == []
    assert sorted(m for m in loaded if m.startswith(NOT_IN_THE_ZYGOTE_OF_AGENTFLOW)) == []


def test_a_sqlite_store_opens_without_the_postgresql_dialect(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    loaded = _modules_after(f"import agentflow\nagentflow.Engine({url!r}).close()")
    assert "agentflow.store.tables" in loaded
    assert sorted(m for m in loaded if "postgresql" in m) == []


def test_public_names_still_resolve_where_they_did():
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


def test_every_runtime_export_resolves():
    for name in agentflow.runtime.__all__:
        assert getattr(agentflow.runtime, name) is not None, name
    assert set(agentflow.runtime.__all__) == set(agentflow.runtime._EXPORTS)
