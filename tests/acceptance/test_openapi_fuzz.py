"""schemathesis over `/openapi.json` of a real `agentflow serve`: no input gets a 5xx.

Bounded: a few examples per operation here, more under CI (`CI` set). The requests carry an
admin token, so bodies get past authentication to the handlers; the store holds one agent with
an approved plan, so some generated requests reach real plans and runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from agentflow.tokens import Tokens
from tests.support.reach_app import engine as make_host
from tests.support.serve import serving

pytestmark = pytest.mark.slow
EXAMPLES = 25 if os.environ.get("CI") else 4


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    db = f"sqlite:///{folder / 'fuzz.db'}"
    host = make_host(db)
    agent = host.agent("a", tools=["list_orders"], review="auto")
    agent.submit_plan('def run(event, step):\n    return step.do("o", tools.list_orders)\n')
    agent.start(run_id="a")
    secret, _ = Tokens(host).create("admin", name="fuzz")
    host.close()
    with serving(db) as base:
        yield base, secret


def test_no_request_gets_a_server_error(served):
    base, secret = served
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    headers = {"Authorization": f"Bearer {secret}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        @given(case=operation.as_strategy())
        def no_server_error(case: schemathesis.Case) -> None:
            if isinstance(case.body, dict) and isinstance(case.body.get("timeout"), int | float):
                case.body["timeout"] = min(case.body["timeout"], 2.0)
            case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=30)

        no_server_error()
