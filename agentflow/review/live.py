"""Live regions of the review pages: server-sent events that carry re-rendered fragments.

A page marks a region with `data-live="/live/..."`; `static/live.js` opens an `EventSource` on
it and swaps the region's HTML for each `update` event. The server side holds no thread while a
page is open: each stream is an async generator that sleeps, then reads the store in a worker
thread for a moment, re-renders the fragment and sends it only when it changed. A stream ends
when its run ends (an `end` event), when the client goes away, or after `lifetime` seconds (the
browser's `EventSource` then reconnects by itself), so an open tab costs a short store read
every `interval` seconds and nothing else.

Every fragment is rendered by the same autoescaping templates as the pages, so the text in an
event (goals, step names, outputs, errors, event payloads) is escaped exactly as on the page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from jinja2 import Environment
from markupsafe import Markup

from agentflow.engine import Engine
from agentflow.models import RunStatus
from agentflow.review import views
from agentflow.review.search import (
    PLAN_STATES,
    RUN_STATES,
    parse_search,
    plan_listing,
    run_listing,
)
from agentflow.review.waterfall import waterfall_svg

#: A fragment and whether it is final (the run ended: nothing more will change).
Snapshot = tuple[str, bool]


@dataclass(frozen=True)
class LiveSettings:
    """How often a live region is re-read, and how long one stream stays open at most."""

    interval: float = 1.0
    lifetime: float = 300.0
    keep_alive: float = 15.0


def run_context(status: RunStatus) -> dict[str, Any]:
    """What `_run_live.html` (and the run page around it) shows of a run."""
    return {
        "run": status,
        "timeline": views.timeline(status.steps),
        # Built from escaped text only (see waterfall.py), so it is marked safe.
        "waterfall": Markup(waterfall_svg(status)),
    }


def sse_event(kind: str, data: str) -> str:
    """One server-sent event: a `data:` line per line of `data`."""
    lines = data.splitlines() or [""]
    return f"event: {kind}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


def add_live_routes(
    app: FastAPI, engine: Engine, env: Environment, settings: LiveSettings | None = None
) -> None:
    """The `/live/...` event streams of the run page, the run list and the plan lists."""
    live = settings or LiveSettings()
    app.state.live_streams = 0

    def fragment(name: str, context: dict[str, Any]) -> str:
        return env.get_template(name).render(**context)

    def stream(request: Request, snapshot: Callable[[], Snapshot], first: Snapshot) -> Any:
        return StreamingResponse(
            _events(request, snapshot, first, live, app.state),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/live/runs/{run_id}", include_in_schema=False)
    async def live_run(request: Request, run_id: str, agent: str | None = None) -> Any:
        """The run page's live region: status, steps, waterfall; ends when the run does."""

        def snapshot() -> Snapshot:
            status = engine.get_run(run_id, agent=agent or None).status()
            return fragment("_run_live.html", run_context(status)), status.done

        return stream(request, snapshot, await asyncio.to_thread(snapshot))

    @app.get("/live/runs", include_in_schema=False)
    async def live_runs(request: Request) -> Any:
        """The run list's live table, with the page's filters and page."""
        search = parse_search(request.query_params, RUN_STATES)

        def snapshot() -> Snapshot:
            listing = run_listing(engine, search)
            return fragment("_runs_table.html", {"listing": listing}), False

        return stream(request, snapshot, await asyncio.to_thread(snapshot))

    @app.get("/live/plans", include_in_schema=False)
    async def live_plans(request: Request) -> Any:
        """A plan list's live table (the pending list is `?status=pending`)."""
        search = parse_search(request.query_params, PLAN_STATES, default="all")
        home = request.query_params.get("home") == "1"

        def snapshot() -> Snapshot:
            listing = plan_listing(engine, search)
            return fragment("_plans_table.html", {"listing": listing, "home_page": home}), False

        return stream(request, snapshot, await asyncio.to_thread(snapshot))


async def _events(
    request: Request,
    snapshot: Callable[[], Snapshot],
    first: Snapshot,
    live: LiveSettings,
    state: Any,
) -> AsyncIterator[str]:
    """Send the fragment, then again each time it changes, until the end or the deadline.

    `state.live_streams` counts the streams open now (a test sees a closed tab's stream end).
    """
    state.live_streams += 1
    try:
        html, done = first
        yield "retry: 2000\n\n" + sse_event("update", html)
        started = quiet_since = time.monotonic()
        while not done and time.monotonic() - started < live.lifetime:
            await asyncio.sleep(live.interval)
            if await request.is_disconnected():
                return
            fresh, done = await asyncio.to_thread(snapshot)
            if fresh != html:
                html, quiet_since = fresh, time.monotonic()
                yield sse_event("update", html)
            elif time.monotonic() - quiet_since >= live.keep_alive:
                quiet_since = time.monotonic()
                yield ": still here\n\n"  # a comment: finds a client that left without a word
        if done:
            yield sse_event("end", "")
    finally:
        state.live_streams -= 1
