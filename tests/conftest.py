"""Shared fixtures: an engine on a real SQLite file, with a ledger of tool calls."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from agentflow.store import Store
from tests.support.host import LEDGER_ENV, make_engine

ROOT = Path(__file__).resolve().parent.parent

# CI replays the same examples every run, so a failure there is reproducible here.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ledger.jsonl"
    monkeypatch.setenv(LEDGER_ENV, str(path))
    return path


POSTGRES_URL = os.environ.get("AGENTFLOW_TEST_POSTGRES_URL")


def _fresh_postgres(url: str) -> str:
    from sqlalchemy import create_engine

    from agentflow.store.tables import metadata

    engine = create_engine(url)
    metadata.drop_all(engine)
    engine.dispose()
    return url


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    not POSTGRES_URL, reason="set AGENTFLOW_TEST_POSTGRES_URL to run on PostgreSQL"
                ),
            ],
        ),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store under test: a SQLite file, and a real PostgreSQL server when one is set up."""
    if request.param == "postgres":
        assert POSTGRES_URL is not None
        return _fresh_postgres(POSTGRES_URL)
    return f"sqlite:///{tmp_path / 'agentflow.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A `Store` on the database under test, closed afterwards."""
    opened = Store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def engine(db_url: str, ledger: Path) -> Iterator:
    eng = make_engine(db_url)
    yield eng
    eng.close()


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start `python -m tests.support.host ARGS` in a fresh process."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.host", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_host(*args: str, timeout: float = 60) -> str:
    """Run the host in a fresh process to the end; its stdout."""
    proc = spawn(*args)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out
