"""What a recovering process starts: a sandbox zygote that imports no database code."""

from __future__ import annotations

import subprocess
import sys

import agentflow.runtime


def test_the_sandbox_zygote_imports_neither_the_store_nor_sqlalchemy():
    # -I as the zygote itself is started: what its interpreter loads before it can fork.
    probe = (
        "import sys, agentflow.runtime.sandbox.zygote; "
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('sqlalchemy', "
        "'sqlmodel', 'agentflow.store', 'agentflow.runtime.worker', 'psycopg'))}))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_every_runtime_export_resolves():
    for name in agentflow.runtime.__all__:
        assert getattr(agentflow.runtime, name) is not None, name
    assert set(agentflow.runtime.__all__) == set(agentflow.runtime._EXPORTS)
