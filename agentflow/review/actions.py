"""The run page's actions: send an event, pause, resume, terminate, restart, retry.

Each is a plain form posted to `/runs/{run_id}/actions/{action}`, protected twice against
cross-site requests: the app refuses writes from another origin (`web._same_origin_writes`),
and every form carries this browser session's CSRF token (a random value kept in a
`SameSite=Strict` cookie and repeated in a hidden field), which a post must return. Each
action is recorded in the run's history with the signed-in reviewer's name (else "web") and
the reason typed on the form.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.middleware.base import BaseHTTPMiddleware

from agentflow.engine import Engine
from agentflow.errors import AgentflowError, RunStateError, UsageError
from agentflow.models import HistoryEntry, RunState, RunStatus
from agentflow.review.api import signed_in
from agentflow.review.statuses import http_status
from agentflow.run import Run

CSRF_COOKIE = "agentflow_csrf"
CSRF_FIELD = "csrf"
_TOKEN_BYTES = 32
MAX_REASON = 2000

#: The actions each run status allows, in the order the page shows them.
ACTIONS: dict[str, tuple[str, ...]] = {
    RunState.QUEUED: ("event", "pause", "terminate"),
    RunState.RUNNING: ("event", "pause", "terminate"),
    RunState.SLEEPING: ("event", "pause", "terminate", "restart"),
    RunState.WAITING: ("event", "pause", "terminate", "restart"),
    RunState.PAUSED: ("event", "resume", "terminate", "restart"),
    RunState.COMPLETE: ("restart",),
    RunState.ERRORED: ("retry", "restart"),
    RunState.TERMINATED: ("restart",),
}
DONE_MESSAGES = {
    "event": "event sent",
    "pause": "pause asked: the run pauses at its next step boundary (at once if idle)",
    "resume": "resumed",
    "terminate": "terminate asked: the run ends at its next step boundary (at once if idle)",
    "restart": "restarted",
    "retry": "retried from the step that failed",
}

#: Renders the run page: `run_page(request, run_id, agent, actions=..., status_code=...)`.
RunPage = Callable[..., Response]


def csrf_token(request: Request) -> str:
    """This browser session's CSRF token, made (and later set as a cookie) on first use."""
    current = request.cookies.get(CSRF_COOKIE, "")
    if _well_formed(current):
        return current
    issued: str | None = getattr(request.state, "csrf_issued", None)
    if issued is None:
        issued = secrets.token_urlsafe(_TOKEN_BYTES)
        request.state.csrf_issued = issued
    return issued


def _well_formed(token: str) -> bool:
    return 20 <= len(token) <= 100 and token.replace("-", "").replace("_", "").isalnum()


def _csrf_ok(request: Request, offered: str) -> bool:
    kept = request.cookies.get(CSRF_COOKIE, "")
    return (
        _well_formed(kept)
        and _well_formed(offered)
        and secrets.compare_digest(kept.encode(), offered.encode())
    )


async def _issue_csrf_cookie(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    issued = getattr(request.state, "csrf_issued", None)
    if issued is not None:
        response.set_cookie(CSRF_COOKIE, issued, httponly=True, samesite="strict")
    return response


def actions_context(
    request: Request,
    status: RunStatus,
    action_error: str | None = None,
    action_form: dict[str, str] | None = None,
) -> dict[str, Any]:
    """What `_run_actions.html` shows for a run: its valid actions, steps, token, form state.

    After a refused action, `action_error` says why and `action_form` holds the values as
    they were typed, to show them again.
    """
    steps: list[tuple[str, str]] = []
    for step in status.steps:
        if step.parent is None:
            label = step.name + (f" #{step.occurrence + 1}" if step.occurrence else "")
            steps.append((step.key, label))
    return {
        "actions": ACTIONS.get(status.status, ()),
        "csrf": csrf_token(request),
        "restart_steps": steps,
        "action_form": {
            "type": status.waiting_for or "",
            **(action_form or {}),
            "error": action_error or "",
        },
        "actor": signed_in(request) or "web",
    }


def parse_payload(text: str) -> Any:
    """An event's payload from the form's JSON text (empty: null).

    Raises:
        UsageError: the text is not JSON, with where it goes wrong.
    """
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"the payload is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def _apply(run: Run, action: str, fields: dict[str, str], actor: str) -> None:
    reason = fields["reason"].strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise UsageError(f"the reason is {len(reason)} characters long; at most {MAX_REASON}")
    if action == "event":
        event_type = fields.get("type", "").strip()
        if not event_type:
            raise UsageError("the event needs a type (the type the run waits for)")
        run.send_event(event_type, parse_payload(fields.get("payload", "")), actor=actor)
    elif action == "restart":
        run.restart(from_step=fields.get("from_step") or None, actor=actor, reason=reason)
    else:
        getattr(run, action)(actor=actor, reason=reason)


def add_run_actions(app: FastAPI, engine: Engine, run_page: RunPage) -> None:
    """Register the run page's action routes (and the CSRF cookie they rely on) on `app`.

    Also `GET /api/runs/{run_id}/history`, the JSON twin of the page's History section.
    """
    app.add_middleware(BaseHTTPMiddleware, dispatch=_issue_csrf_cookie)

    @app.get("/api/runs/{run_id}/history", response_model=list[HistoryEntry], tags=["review"])
    def run_history(run_id: str, agent: str | None = None) -> list[HistoryEntry]:
        """One run's append-only history, oldest first (the run page's History section)."""
        return engine.get_run(run_id, agent=agent or None).history()

    @app.post("/runs/{run_id}/actions/{action}", response_model=None)
    def act(
        request: Request,
        run_id: str,
        action: str,
        agent: str = Form(""),
        csrf: str = Form(""),
        reason: str = Form(""),
        event_type: str = Form("", alias="type"),
        payload: str = Form(""),
        from_step: str = Form(""),
    ) -> Response:
        """Carry out one action on a run, then show the run's page again."""
        fields = {"type": event_type, "payload": payload, "from_step": from_step, "reason": reason}
        if not _csrf_ok(request, csrf):
            error = (
                "this form is out of date or was not sent from this app (its CSRF token does "
                "not match your session): reload the page and try again"
            )
            return run_page(request, run_id, agent or None, action_error=error, status_code=403)
        run = engine.get_run(run_id, agent=agent or None)
        try:
            allowed = ACTIONS.get(run.status().status, ())
            if action not in allowed:
                raise RunStateError(
                    f"run {run.id} is {run.status().status}: {action!r} is not possible now "
                    f"(possible: {', '.join(allowed) or 'nothing'})"
                )
            _apply(run, action, fields, signed_in(request) or "web")
        except (AgentflowError, ValueError) as exc:
            return run_page(
                request,
                run_id,
                agent or None,
                action_error=str(exc),
                action_form={"action": action, **fields},
                status_code=http_status(exc) if isinstance(exc, AgentflowError) else 400,
            )
        query = {"done": action, **({"agent": agent} if agent else {})}
        target = f"/runs/{quote(run_id, safe='')}?{urlencode(query)}"
        return RedirectResponse(target, status_code=303)
