"""`create_server`: the JSON API under `/api/v1`, its docs, and the review web app at `/`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from agentflow.engine import Engine
from agentflow.planner.model import PlannerModel
from agentflow.review.web import _same_origin_writes, create_app
from agentflow.server.access import Access
from agentflow.server.docs import render_docs
from agentflow.server.plans import plans_router
from agentflow.server.problems import install_problem_handlers
from agentflow.server.runs import runs_router
from agentflow.tokens import Tokens

DESCRIPTION = (
    "Submit and check plans, start runs and plan-and-run, read runs and their step timelines, "
    "send events and control runs; reviewers approve and reject plans. Every request carries "
    "a token (`agentflow tokens create`): an agent token sees only its own agent."
)


def _version() -> str:
    try:
        return version("agentflow")
    except PackageNotFoundError:
        return "0"


def create_server(
    engine: Engine,
    *,
    allowed_hosts: list[str] | None = None,
    open_without_tokens: bool = False,
    static_token: str | None = None,
    model: str | PlannerModel | None = None,
) -> FastAPI:
    """The `agentflow serve` application over an engine's store.

    Args:
        engine: the engine whose agents, plans and runs are served; never closed here.
        allowed_hosts: `Host` header values to accept (loopback names for a local server,
            which stops DNS-rebinding pages); None accepts any.
        open_without_tokens: while the store holds no token, let requests without one in as
            an admin named "local" (for a server on loopback).
        static_token: one shared secret accepted besides the stored tokens, as an admin
            (`agentflow review serve --token`).
        model: the model plan-and-run asks; default as `plan_and_run`'s.
    """
    access = Access(Tokens(engine), open_without_tokens, static_token)
    app = FastAPI(
        title="agentflow",
        version=_version(),
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_problem_handlers(app)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_same_origin_writes)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.include_router(plans_router(engine, access), prefix="/api/v1")
    app.include_router(runs_router(engine, access, model), prefix="/api/v1")

    @app.api_route(
        "/api/v1/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    def no_such_endpoint(rest: str) -> None:
        raise HTTPException(404, f"no endpoint /api/v1/{rest}: see /docs")

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(render_docs(app.openapi()))

    app.mount("/", create_app(engine, token=access.reviewer_sign_in(), api_docs=False))
    return app
