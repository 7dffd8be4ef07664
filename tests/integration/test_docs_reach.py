"""`docs/http-api.md`'s shell examples run as written, and its MCP client configuration starts the
MCP server. (Its ```` ```python runnable ```` blocks run in `test_docs.py`.)

A ```` ```bash runnable ```` block runs under `bash -euo pipefail` in a fresh temporary directory,
with `AGENTFLOW_DATABASE_URL` there, `PORT` a free port and this Python's `agentflow` on `PATH`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_docs import blocks, ident
from tests.support.serve import free_port

ROOT = Path(__file__).resolve().parents[2]
PAGE = "http-api.md"


def page_blocks(tag: str) -> list[tuple[str, int, str]]:
    return [b for b in blocks(tag) if b[0] == PAGE]


@pytest.mark.slow
@pytest.mark.parametrize("block", page_blocks("bash runnable"), ids=ident)
def test_shell_example(block, tmp_path):
    name, line, code = block
    env = {
        **os.environ,
        "AGENTFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'docs.db'}",
        "PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, f"{name}:{line} failed:\n{done.stdout}\n{done.stderr}"
    assert done.stdout.split().count("true") >= 3, done.stdout
    assert done.stdout.split().count("false") == 1, done.stdout


def test_the_mcp_client_configuration_names_the_mcp_command():
    (config,) = page_blocks("json mcp-config")
    server = json.loads(config[2])["mcpServers"]["acme"]
    assert server["command"] == "agentflow"
    assert server["args"][:3] == ["mcp", "--agent", "acme"]


def test_every_interface_has_a_runnable_example():
    assert len(page_blocks("bash runnable")) == 1
    assert len(page_blocks("python runnable")) == 2
