"""`agentflow.client`: each problem-details answer is raised as agentflow's own error."""

from __future__ import annotations

import httpx
import pytest

from agentflow.client import AccessDenied, ApiError, Client
from agentflow.errors import LimitExceeded, NotFound, PlanValidationError, RunStateError


def client_answering(status: int, body: object, content_type: str = "application/problem+json"):
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer aft_x"
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers={"content-type": "text/plain"})
        return httpx.Response(status, json=body, headers={"content-type": content_type})

    return Client("http://agentflow.test", "aft_x", transport=httpx.MockTransport(answer))


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, {"status": 404, "detail": "agent 'a' has no run 'r'"}, NotFound),
        (409, {"status": 409, "detail": "run r is complete"}, RunStateError),
        (413, {"status": 413, "detail": "too big"}, LimitExceeded),
        (401, {"status": 401, "detail": "needs a token"}, AccessDenied),
        (403, {"status": 403, "detail": "reviewers only"}, AccessDenied),
        (422, {"status": 422, "detail": "run_id: bad", "errors": []}, ApiError),
        (500, "Internal Server Error", ApiError),
    ],
)
def test_problems_become_agentflow_errors(status, body, error):
    with client_answering(status, body) as client, pytest.raises(error) as raised:
        client.get_run("r")
    if isinstance(raised.value, ApiError):
        assert raised.value.status == status


def test_diagnostics_become_a_plan_validation_error():
    problem = {
        "status": 422,
        "detail": "plan is not valid",
        "diagnostics": [{"line": 2, "col": 5, "code": "AF010", "message": "unknown tool"}],
    }
    with client_answering(422, problem) as client, pytest.raises(PlanValidationError) as raised:
        client.agent("a").submit_plan("def run(event, step):\n    tools.x()\n")
    assert [(d.line, d.code) for d in raised.value.diagnostics] == [(2, "AF010")]
