"""`Client`: drive an `agentflow serve` over HTTP, with the same handles as the embedded API.

A service without database access starts runs, reads them, sends them events and submits plans
through the server, authenticated by a token (`agentflow tokens create`):

    >>> from agentflow.client import Client
    >>> client = Client("http://127.0.0.1:8765", token="aft_...")     # doctest: +SKIP
    >>> run = client.agent("acme-support").start({"customer": 42})       # doctest: +SKIP
    >>> run.send_event("refund-approval", {"approved": True}, id="mail-17")  # doctest: +SKIP
    >>> run.result(timeout=30)                                         # doctest: +SKIP

Errors answered by the server are raised as the same classes the embedded API raises
(`NotFound`, `PlanValidationError` with its diagnostics, `RunStateError`, ...), or as
`ApiError` (with the problem details) for the rest.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from agentflow.diagnostics import Diagnostic
from agentflow.errors import (
    AgentflowError,
    LimitExceeded,
    NotFound,
    PlanValidationError,
    RunFailed,
    RunStateError,
    RunTimeout,
)
from agentflow.models import HistoryEntry, PlanVersion, RunState, RunStatus

API = "/api/v1"
_POLL_SECONDS = 0.2


class ApiError(AgentflowError):
    """An error answer of the server: `.status` and the problem details in `.problem`."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")


class AccessDenied(ApiError):
    """The token is missing, unknown or revoked (401), or its role may not do this (403)."""


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        problem: dict[str, Any] = response.json()
    except ValueError:
        problem = {"title": response.reason_phrase, "detail": response.text}
    if not isinstance(problem, dict):
        problem = {"detail": str(problem)}
    detail = str(problem.get("detail", ""))
    status = response.status_code
    if status == 404:
        raise NotFound(detail)
    if status == 422 and problem.get("diagnostics"):
        raise PlanValidationError([Diagnostic(**d) for d in problem["diagnostics"]])
    if status == 409:
        raise RunStateError(detail)
    if status == 413:
        raise LimitExceeded(detail)
    if status in (401, 403):
        raise AccessDenied(status, problem)
    raise ApiError(status, problem)


class Client:
    """A connection to an `agentflow serve`.

    Args:
        base_url: the server, e.g. `http://127.0.0.1:8765`.
        token: an API token (`agentflow tokens create`).
        timeout: seconds per HTTP request.
        transport: an httpx transport (for tests, e.g. `httpx.MockTransport`).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + API,
            headers=headers,
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """One API call: the answer's JSON; errors raised as agentflow errors."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        response = self._http.request(method, path, json=json, params=query, **extra)
        _raise_for(response)
        return response.json() if response.content else None

    # --- agents, plans ---------------------------------------------------------------------

    def agent(self, agent_id: str) -> RemoteAgent:
        """The handle of an agent (no request is made until it is used)."""
        return RemoteAgent(self, agent_id)

    def get_plan(self, plan_id: int) -> PlanVersion:
        """A plan version; its diff and decisions are at `plan_detail`."""
        return PlanVersion.model_validate(self.plan_detail(plan_id))

    def plan_detail(self, plan_id: int) -> dict[str, Any]:
        """A plan version with `diff` (against the last approved one) and `decisions`."""
        detail: dict[str, Any] = self.request("GET", f"/plans/{plan_id}")
        return detail

    def plans(self, agent: str | None = None, status: str | None = None) -> list[PlanVersion]:
        """Plan versions the token sees, newest first."""
        answer = self.request("GET", "/plans", params={"agent": agent, "status": status})
        return [PlanVersion.model_validate(p) for p in answer]

    def approve(self, plan_id: int, comment: str | None = None) -> PlanVersion:
        """Approve a pending plan version, as the token's holder (reviewer or admin token)."""
        answer = self.request("POST", f"/plans/{plan_id}/approve", json={"comment": comment})
        return PlanVersion.model_validate(answer)

    def reject(self, plan_id: int, comment: str | None = None) -> PlanVersion:
        """Reject a pending plan version, as the token's holder (reviewer or admin token)."""
        answer = self.request("POST", f"/plans/{plan_id}/reject", json={"comment": comment})
        return PlanVersion.model_validate(answer)

    def check(self, source: str, agent: str | None = None) -> dict[str, Any]:
        """Compile a plan without storing it: `{ok, diagnostics, warnings, summary}`."""
        result: dict[str, Any] = self.request(
            "POST", "/check", json={"source": source, "agent": agent}
        )
        return result

    # --- runs ------------------------------------------------------------------------------

    def get_run(self, run_id: str, agent: str | None = None) -> RemoteRun:
        """The handle of a run (checked to exist; an agent token sees only its own)."""
        status = RunStatus.model_validate(
            self.request("GET", f"/runs/{run_id}", params={"agent": agent})
        )
        return RemoteRun(self, status.id, status.agent_id)

    def runs(
        self,
        agent: str | None = None,
        status: RunState | str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[RemoteRun]:
        """Handles of the runs the token sees, newest first (all pages, or the first `limit`)."""
        return [
            RemoteRun(self, s.id, s.agent_id)
            for s in self.run_statuses(agent, status, since=since, until=until, limit=limit)
        ]

    def run_statuses(
        self,
        agent: str | None = None,
        status: RunState | str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[RunStatus]:
        """The runs the token sees, newest first, as statuses (without their steps)."""
        found: list[RunStatus] = []
        cursor = None
        while True:
            page = self.request(
                "GET",
                "/runs",
                params={
                    "agent": agent,
                    "status": status,
                    "since": since.isoformat() if since else None,
                    "until": until.isoformat() if until else None,
                    "limit": min(limit - len(found), 1000) if limit else 200,
                    "cursor": cursor,
                },
            )
            found.extend(RunStatus.model_validate(r) for r in page["items"])
            cursor = page.get("next_cursor")
            if not cursor or (limit is not None and len(found) >= limit):
                return found


class RemoteAgent:
    """An agent over HTTP: `submit_plan`, `check`, `start`, `plan_and_run`, `get_run`, `runs`."""

    def __init__(self, client: Client, agent_id: str) -> None:
        self.client = client
        self.id = agent_id

    def __repr__(self) -> str:
        return f"RemoteAgent({self.id!r})"

    def submit_plan(self, source: str, goal: str | None = None) -> PlanVersion:
        """Store a plan as the agent's next version; raises PlanValidationError."""
        answer = self.client.request(
            "POST", f"/agents/{self.id}/plans", json={"source": source, "goal": goal}
        )
        return PlanVersion.model_validate(answer)

    def check(self, source: str) -> dict[str, Any]:
        """Compile a plan against this agent's tools, storing nothing."""
        return self.client.check(source, agent=self.id)

    def plans(self, status: str | None = None) -> list[PlanVersion]:
        """This agent's plan versions, newest first."""
        return self.client.plans(agent=self.id, status=status)

    def start(
        self,
        params: dict[str, Any] | None = None,
        *,
        plan: PlanVersion | int | None = None,
        run_id: str | None = None,
    ) -> RemoteRun:
        """Start a run of an approved plan (the latest by default); idempotent on `run_id`."""
        plan_id = plan.id if isinstance(plan, PlanVersion) else plan
        answer = self.client.request(
            "POST",
            f"/agents/{self.id}/runs",
            json={"params": params or {}, "run_id": run_id, "plan_id": plan_id},
        )
        return RemoteRun(self.client, answer["id"], self.id)

    def plan_and_run(
        self,
        goal: str,
        params: dict[str, Any] | None = None,
        *,
        wait: bool = False,
        timeout: float = 30.0,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Plan a goal (or reuse its approved plan) and start the run, on the server.

        Returns:
            `{run_id, status, agent_id, plan_id, plan_version, review, reused, output,
            message}`, as `PlanAndRunResult.model_dump()`.
        """
        answer: dict[str, Any] = self.client.request(
            "POST",
            f"/agents/{self.id}/plan-and-run",
            json={
                "goal": goal,
                "params": params or {},
                "wait": wait,
                "timeout": timeout,
                "run_id": run_id,
            },
            timeout=timeout + 30.0 if wait else None,
        )
        return answer

    def get_run(self, run_id: str) -> RemoteRun:
        """One of this agent's runs."""
        return self.client.get_run(run_id, agent=self.id)

    def runs(self, status: RunState | str | None = None) -> list[RemoteRun]:
        """Handles of this agent's runs, newest first."""
        return self.client.runs(agent=self.id, status=status)


class RemoteRun:
    """A run over HTTP.

    `status`, `history`, `result`, `send_event`, `pause`, `resume`, `terminate`, `restart`,
    as `agentflow.Run`. The server records the token's name as the actor of each control.
    """

    def __init__(self, client: Client, run_id: str, agent_id: str) -> None:
        self.client = client
        self.id = run_id
        self.agent_id = agent_id

    def __repr__(self) -> str:
        return f"RemoteRun({self.id!r}, agent={self.agent_id!r})"

    def _path(self, tail: str = "") -> str:
        return f"/runs/{self.id}{tail}"

    def _params(self) -> dict[str, Any]:
        return {"agent": self.agent_id}

    def status(self) -> RunStatus:
        """The run's state, output or error, and its step timeline."""
        answer = self.client.request("GET", self._path(), params=self._params())
        return RunStatus.model_validate(answer)

    def history(self) -> list[HistoryEntry]:
        """The run's append-only history, oldest first (see `agentflow.Run.history`)."""
        answer = self.client.request("GET", self._path("/history"), params=self._params())
        return [HistoryEntry.model_validate(entry) for entry in answer]

    def result(self, timeout: float | None = None) -> Any:
        """Wait for the run's end (a worker runs it); its output.

        Raises:
            RunFailed: the run ended errored or terminated.
            RunTimeout: `timeout` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status()
            if status.status == RunState.COMPLETE:
                return status.output
            if status.done:
                raise RunFailed(self.id, status.status, status.error)
            if deadline is not None and time.monotonic() >= deadline:
                raise RunTimeout(self.id, status.status, timeout or 0.0)
            time.sleep(_POLL_SECONDS)

    def send_event(self, type: str, payload: Any = None, *, id: str | None = None) -> bool:
        """Send an event; with `id`, one the run already received is not delivered again.

        Returns:
            True when the event was added; False when `id` was already received.
        """
        answer = self.client.request(
            "POST",
            self._path("/events"),
            json={"type": type, "payload": payload, "id": id},
            params=self._params(),
        )
        return bool(answer["delivered"])

    def _control(self, action: str, body: dict[str, Any]) -> RunStatus:
        answer = self.client.request(
            "POST", self._path(f"/{action}"), json=body, params=self._params()
        )
        return RunStatus.model_validate(answer)

    def pause(self, reason: str | None = None) -> RunStatus:
        """Pause the run at its next step boundary."""
        return self._control("pause", {"reason": reason})

    def resume(self, reason: str | None = None) -> RunStatus:
        """Resume a paused run."""
        return self._control("resume", {"reason": reason})

    def terminate(self, reason: str | None = None) -> RunStatus:
        """End the run for good."""
        return self._control("terminate", {"reason": reason})

    def restart(
        self,
        from_step: str | None = None,
        plan: PlanVersion | int | None = None,
        reason: str | None = None,
    ) -> RunStatus:
        """Run again: from the start, from a named step, or on another approved plan version."""
        plan_id = plan.id if isinstance(plan, PlanVersion) else plan
        return self._control(
            "restart", {"from_step": from_step, "plan_id": plan_id, "reason": reason}
        )


__all__ = ["AccessDenied", "ApiError", "Client", "RemoteAgent", "RemoteRun"]
