"""The import graph of agentflow: no cycles, no arrow up a layer, no import inside a function
outside `cli.py` and `testing.py` (the same figures `scripts/import_graph.py` prints)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_imports_point_one_way():
    figures = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_graph.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in (
        "cycles (strongly connected groups of modules): 0",
        "imports inside functions (outside cli.py and testing.py): 0",
        "arrows that point up a layer: 0",
    ):
        assert line in figures, figures
