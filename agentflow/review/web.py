"""`agentflow review serve`: the local web app where reviewers read, approve and reject plans.

Server-rendered HTML (Jinja2, autoescaped: plan sources, goals and comments are untrusted text
written by models) with plain forms, and a JSON API under `/api/` that mirrors the pages.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from agentflow.engine import Engine
from agentflow.errors import AgentflowError, NotFound, UsageError
from agentflow.models import PlanState, Simulation
from agentflow.review import views
from agentflow.review.actions import DONE_MESSAGES, actions_context, add_run_actions
from agentflow.review.api import api_router, decide, signed_in
from agentflow.review.live import LiveSettings, add_live_routes, run_context
from agentflow.review.search import (
    PLAN_STATES,
    RUN_STATES,
    Search,
    parse_search,
    plan_listing,
    run_listing,
)
from agentflow.review.statuses import http_status
from agentflow.run import run_status_of
from agentflow.runtime import RunStatus
from agentflow.store.pages import agent_ids
from agentflow.terminal import history_detail, trace_detail

#: Renders a template: `page(request, name, context, status_code=200)`.
Page = Callable[..., HTMLResponse]
SignIn = Callable[[str | None], str | None]
"""Checks a token offered to the web app (None: none offered): the signed-in reviewer's name,
"" to let the request in without a name, or None to refuse it."""
# pending: an approval was recorded and the two-person rule asks another reviewer for one
_DECIDED = frozenset({PlanState.APPROVED, PlanState.REJECTED, PlanState.PENDING})


def create_app(
    engine: Engine,
    *,
    allowed_hosts: list[str] | None = None,
    token: str | SignIn | None = None,
    api_docs: bool = True,
    live: LiveSettings | None = None,
) -> FastAPI:
    """The review web app over an engine's store.

    Args:
        engine: the engine whose plans and runs are shown; the app never closes it.
        allowed_hosts: `Host` header values to accept (e.g. `["127.0.0.1", "localhost"]`,
            which stops DNS-rebinding pages from reaching a local server); None accepts any.
        token: when set, every request must carry it: `Authorization: Bearer TOKEN`, or open
            any page once with `?token=TOKEN`, which keeps it in a cookie for the session. A
            `SignIn` function instead checks each token offered (`agentflow serve`'s stored
            tokens); the name it returns is the reviewer of the decisions taken with it.
        api_docs: serve the interactive API docs at `/api/docs` (their assets come from a CDN).
        live: how often the pages' live regions are re-read (`/live/...` event streams).
    """
    app = FastAPI(
        title="agentflow review",
        description="Review generated plans before they run; inspect runs.",
        docs_url="/api/docs" if api_docs else None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    env = _environment()
    templates = Jinja2Templates(env=env)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_same_origin_writes)
    if token:

        def sign_in_page(request: Request, error: str | None, next_path: str) -> Response:
            context = {"url": engine.url, "signed_in": "", "error": error, "next": next_path}
            return templates.TemplateResponse(request, "signin.html", context, status_code=401)

        app.add_middleware(BaseHTTPMiddleware, dispatch=_token_required(token, sign_in_page))
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.include_router(api_router(engine), prefix="/api")
    app.mount("/static", StaticFiles(packages=[("agentflow.review", "static")]), name="static")

    def page(
        request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> HTMLResponse:
        context = {"url": engine.url, "signed_in": signed_in(request), **context}
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    async def error_answer(request: Request, exc: Exception) -> Response:
        status = http_status(exc)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=status)
        title = HTTPStatus(status).phrase.capitalize()
        return page(request, "error.html", {"title": title, "message": str(exc)}, status)

    app.add_exception_handler(AgentflowError, error_answer)
    _add_plan_pages(app, engine, page)
    _add_run_pages(app, engine, page)
    add_live_routes(app, engine, env, live)
    return app


def _add_plan_pages(app: FastAPI, engine: Engine, page: Page) -> None:
    @app.get("/", response_class=HTMLResponse)
    def pending(request: Request) -> HTMLResponse:
        search = parse_search(request.query_params, (PlanState.PENDING,), PlanState.PENDING)
        listing = plan_listing(engine, search)
        return page(request, "plans.html", _plan_list(listing.search, listing, home=True))

    @app.get("/plans", response_class=HTMLResponse)
    def plans(request: Request) -> HTMLResponse:
        listing = plan_listing(engine, parse_search(request.query_params, PLAN_STATES, "all"))
        return page(request, "plans.html", _plan_list(listing.search, listing, home=False))

    def plan_page(
        request: Request,
        plan_id: int,
        *,
        error: str | None = None,
        status_code: int = 200,
        form: dict[str, str] | None = None,
        done: str | None = None,
        simulation: Simulation | None = None,
        simulation_waits: str = "answer",
    ) -> HTMLResponse:
        plan = engine.get_plan(plan_id)
        runs = [r for r in engine.store.list_runs(plan.agent_id, limit=200) if r.plan_id == plan.id]
        context = {
            "plan": plan,
            "summary": views.summary_view(plan.summary.model_dump(mode="json")),
            "source": views.numbered(plan.source),
            "diff": views.diff_lines(engine.reviews.diff(plan_id)),
            "decisions": engine.reviews.decisions(plan_id),
            "review": engine.reviews.context(plan_id),
            "runs": [run_status_of(r, []) for r in runs],
            "error": error,
            "form": form or {},
            "done": PlanState(done) if done in _DECIDED else None,
            "simulation": simulation,
            "simulation_waits": simulation_waits,
        }
        return page(request, "plan.html", context, status_code)

    _add_dry_run(app, engine, plan_page)

    @app.get("/plans/{plan_id}", response_class=HTMLResponse)
    def plan(request: Request, plan_id: int, done: str | None = None) -> HTMLResponse:
        return plan_page(request, plan_id, done=done)

    def decide_form(
        request: Request, plan_id: int, decision: str, reviewer: str, comment: str
    ) -> Response:
        reviewer = signed_in(request) or reviewer
        try:
            decided = decide(engine, plan_id, decision, reviewer, comment)
        except NotFound:
            raise
        except UsageError as exc:  # shown on the plan's page, above the form as it was filled
            form = {"reviewer": reviewer, "comment": comment}
            return plan_page(
                request, plan_id, error=str(exc), status_code=http_status(exc), form=form
            )
        return RedirectResponse(f"/plans/{plan_id}?done={decided.status}", status_code=303)

    @app.post("/plans/{plan_id}/approve")
    def approve(
        request: Request, plan_id: int, reviewer: str = Form(""), comment: str = Form("")
    ) -> Response:
        return decide_form(request, plan_id, "approve", reviewer, comment)

    @app.post("/plans/{plan_id}/reject")
    def reject(
        request: Request, plan_id: int, reviewer: str = Form(""), comment: str = Form("")
    ) -> Response:
        return decide_form(request, plan_id, "reject", reviewer, comment)


def _add_dry_run(app: FastAPI, engine: Engine, plan_page: Callable[..., HTMLResponse]) -> None:
    @app.post("/plans/{plan_id}/simulate", response_class=HTMLResponse)
    def simulate(
        request: Request, plan_id: int, waits: Literal["answer", "timeout"] = Form("answer")
    ) -> HTMLResponse:
        """Dry-run the plan (fake tools, virtual clock) and show its trace on the plan's page."""
        simulation = engine.reviews.simulate(plan_id, waits=waits)
        return plan_page(request, plan_id, simulation=simulation, simulation_waits=waits)


def _add_run_pages(app: FastAPI, engine: Engine, page: Page) -> None:
    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request) -> HTMLResponse:
        search = parse_search(request.query_params, RUN_STATES)
        context = {
            "listing": run_listing(engine, search),
            "search": search,
            "live_query": search.query(after=search.after, before=search.before),
            "states": RUN_STATES,
            "agents": agent_ids(engine.store),
        }
        return page(request, "runs.html", context)

    def run_page(
        request: Request,
        run_id: str,
        agent: str | None,
        *,
        status_code: int = 200,
        done: str | None = None,
        **action_state: Any,
    ) -> HTMLResponse:
        handle = engine.get_run(run_id, agent=agent or None)
        status: RunStatus = handle.status()
        context = {
            **run_context(status),
            "live_query": urlencode({"agent": agent}) if agent else "",
            "history": handle.history(),
            "agent_param": agent or "",
            "action_done": DONE_MESSAGES.get(done or ""),
            **actions_context(request, status, **action_state),
        }
        return page(request, "run.html", context, status_code)

    add_run_actions(app, engine, run_page)

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(
        request: Request, run_id: str, agent: str | None = None, done: str | None = None
    ) -> HTMLResponse:
        return run_page(request, run_id, agent, done=done)


def _plan_list(search: Search, listing: object, *, home: bool) -> dict[str, Any]:
    return {
        "listing": listing,
        "search": search,
        "live_query": search.query(after=search.after, before=search.before),
        "states": PLAN_STATES,
        "home": home,
    }


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("agentflow.review", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=views.time_tag,
        cut=views.is_cut,
        seconds=views.seconds,
        json=views.to_json,
        short=views.short,
        tools=views.tool_names,
        trace_detail=trace_detail,
        history_detail=history_detail,
    )
    return env


async def _same_origin_writes(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    # A page on another site may post a plain form to a local server (CSRF); browsers always
    # name the origin of such a post, so any write whose origin is not this server is refused.
    if request.method not in ("GET", "HEAD", "OPTIONS") and _cross_site(request):
        return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
    return await call_next(request)


def _cross_site(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    return origin is not None and urlsplit(origin).netloc != request.headers.get("host")


TOKEN_COOKIE = "agentflow_review_token"


def _static_sign_in(token: str) -> SignIn:
    def check(candidate: str | None) -> str | None:
        matches = candidate is not None and secrets.compare_digest(
            candidate.encode("utf-8"), token.encode("utf-8")
        )
        return "" if matches else None

    return check


SignInPage = Callable[[Request, str | None, str], Response]


def _local_path(value: object) -> str:
    """A path on this server to go back to after signing in (never another site)."""
    text = value if isinstance(value, str) else ""
    return text if text.startswith("/") and not text.startswith("//") else "/"


async def _sign_in(
    request: Request, sign_in_page: SignInPage, matches: Callable[[str | None], bool]
) -> Response:
    """The sign-in page, or its form's answer: a cookie and a way back, or the page again."""
    if request.method != "POST":
        return sign_in_page(request, None, "/")
    if _cross_site(request):
        return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
    form = await request.form()
    back = _local_path(form.get("next"))
    secret = form.get("token")
    if isinstance(secret, str) and matches(secret):
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(TOKEN_COOKIE, secret, httponly=True, samesite="strict")
        return response
    return sign_in_page(request, "that token is unknown, revoked or not a reviewer's", back)


def _token_required(
    token: str | SignIn, sign_in_page: SignInPage | None = None
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    check = _static_sign_in(token) if isinstance(token, str) else token

    def matches(candidate: str | None) -> bool:
        return candidate is not None and check(candidate) is not None

    async def dispatch(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if sign_in_page is not None and request.url.path == "/signin":
            return await _sign_in(request, sign_in_page, matches)
        if request.url.path.startswith("/static/"):  # the stylesheet and script: no secrets
            return await call_next(request)
        offered = request.query_params.get("token")
        if matches(offered):
            # Keep the token in a cookie and drop it from the address bar (and history).
            query = urlencode(
                [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            )
            target = request.url.path + (f"?{query}" if query else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(TOKEN_COOKIE, offered or "", httponly=True, samesite="strict")
            return response
        bearer = request.headers.get("authorization", "")
        for candidate in (
            request.cookies.get(TOKEN_COOKIE),
            bearer[len("Bearer ") :] if bearer.startswith("Bearer ") else None,
            None,
        ):
            name = check(candidate)
            if name is not None:
                request.state.reviewer = name
                return await call_next(request)
        wants_page = "text/html" in request.headers.get("accept", "")
        if sign_in_page is not None and wants_page and not request.url.path.startswith("/api/"):
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return sign_in_page(request, None, here)
        return JSONResponse(
            {
                "detail": "this review app needs its token: open it with ?token=... once, "
                "or send Authorization: Bearer ..."
            },
            status_code=401,
        )

    return dispatch
