"""The benchmark's agentflow side runs: a recovery in a fresh process, one sample.

(`pg-takeover` creates and drops a database of its own, so the suite leaves it to the
benchmark; `tests/integration/test_processes.py` checks the same takeover on the test database.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow
SCRIPT = ROOT / "bench" / "peers" / "agentflow_bench.py"


def _measure(role: str, directory: Path) -> dict:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), role, "--dir", str(directory), "--count", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (row,) = json.loads(done.stdout.splitlines()[-1])["rows"]
    return row


def test_the_recovery_measure_recovers_a_killed_run_in_a_fresh_process(tmp_path):
    row = _measure("recovery", tmp_path)
    (seconds,) = row["samples"]
    # Spawn to result: an interpreter's start and imports, far below the 5 s lease.
    assert 0 < seconds < 4.5, seconds
