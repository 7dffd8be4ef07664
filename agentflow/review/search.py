"""Search and paging on the review app's plan and run lists.

The filters come from the page's query string (`agent`, `status`, `from`, `to`, `q` for text in
the goal, `per` rows a page) and are checked here, so a bad value is a 400 page that says which
field was wrong and how to write it. Pages are keyset pages (`after` / `before` the row that
closed the next page), and every link keeps the filters.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from agentflow.engine import Engine
from agentflow.errors import UsageError
from agentflow.models import PlanState, RunState, RunStatus
from agentflow.run import run_status_of
from agentflow.runtime import PlanVersion
from agentflow.store.mappers import plan_version_of
from agentflow.store.pages import page_plans, page_runs, plan_goals

PLAN_STATES = ("all", PlanState.PENDING, PlanState.APPROVED, PlanState.REJECTED)
RUN_STATES = ("", *(state.value for state in RunState))
PER_PAGE = 25
MAX_PER_PAGE = 200
_TIME_HINT = "write it as 2026-12-04 or 2026-12-04T10:30 (UTC unless an offset is given)"


@dataclass(frozen=True)
class Search:
    """A list's filters and the page asked for, as checked values."""

    agent: str = ""
    status: str = ""
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""
    per: int = PER_PAGE
    after: str = ""
    before: str = ""
    # The filter fields as typed, to show them back in the form.
    typed_from: str = ""
    typed_to: str = ""

    def query(self, **page: str) -> str:
        """The query string of these filters (empty ones left out), on the page given."""
        pairs = {
            "agent": self.agent,
            "status": self.status,
            "from": self.typed_from,
            "to": self.typed_to,
            "q": self.text,
            "per": str(self.per) if self.per != PER_PAGE else "",
            **page,
        }
        return urlencode([(k, v) for k, v in pairs.items() if v])


def parse_search(params: Mapping[str, str], states: Sequence[str], default: str = "") -> Search:
    """The filters of a list page's query string.

    Raises:
        UsageError: a value that cannot be a filter, named with how to write it.
    """
    status = params.get("status", default)
    if status not in states:
        shown = ", ".join(s or '"" (any)' for s in states)
        raise UsageError(f"status: {status!r} is not a status to filter on; use one of {shown}")
    typed_from = params.get("from", "").strip()
    typed_to = params.get("to", "").strip()
    since = _moment("from", typed_from, end_of_day=False)
    until = _moment("to", typed_to, end_of_day=True)
    if since is not None and until is not None and until <= since:
        raise UsageError(f"to: {typed_to!r} is not after from: {typed_from!r}")
    if params.get("after") and params.get("before"):
        raise UsageError("after and before: give one of them, not both (they name a page)")
    return Search(
        agent=params.get("agent", "").strip(),
        status=status,
        since=since,
        until=until,
        text=params.get("q", "").strip()[:200],
        per=_per_page(params.get("per", "")),
        after=params.get("after", ""),
        before=params.get("before", ""),
        typed_from=typed_from,
        typed_to=typed_to,
    )


def _per_page(text: str) -> int:
    if not text:
        return PER_PAGE
    if not text.isdigit() or not 1 <= int(text) <= MAX_PER_PAGE:
        raise UsageError(f"per: {text!r} is not a page size; use a whole number 1-{MAX_PER_PAGE}")
    return int(text)


def _moment(field: str, text: str, *, end_of_day: bool) -> datetime | None:
    """A filter's time; a bare date means its start (`from`) or its end (`to`, inclusive)."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{field}: {text!r} is not a date or time; {_TIME_HINT}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _epoch(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None


@dataclass(frozen=True)
class Listing:
    """One page of a list: its rows and the query strings of the pages next to it."""

    items: list[Any]
    search: Search
    next_query: str | None
    prev_query: str | None
    goals: dict[int, str | None]


def encode_run_mark(created_at: float, key: str) -> str:
    """The opaque page mark of a run (its creation time and key)."""
    raw = json.dumps([created_at, key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_run_mark(field: str, mark: str) -> tuple[float, str]:
    """The run a page mark names.

    Raises:
        UsageError: a mark this app did not give.
    """
    try:
        created_at, key = json.loads(base64.urlsafe_b64decode(mark + "=" * (-len(mark) % 4)))
        if isinstance(created_at, int | float) and isinstance(key, str):
            return float(created_at), key
    except (binascii.Error, ValueError, TypeError):
        pass
    raise UsageError(f"{field}: {mark[:40]!r} is not a page of this list; follow the page links")


def _plan_mark(field: str, mark: str) -> int | None:
    if not mark:
        return None
    if not mark.isdigit():
        raise UsageError(f"{field}: {mark[:40]!r} is not a page of this list; follow its links")
    return int(mark)


def _pages(
    search: Search, rows: list[Any], marks: list[str]
) -> tuple[list[Any], str | None, str | None]:
    """Trim the extra row read to know if there is more; the next and previous pages' queries."""
    per = search.per
    if search.before and not search.after:
        more_back = len(rows) > per
        rows, marks = rows[-per:], marks[-per:]
        has_prev, has_next = more_back, True
    else:
        has_next = len(rows) > per
        rows, marks = rows[:per], marks[:per]
        has_prev = bool(search.after)
    plain = replace(search, after="", before="")
    next_query = plain.query(after=marks[-1]) if has_next and rows else None
    prev_query = plain.query(before=marks[0]) if has_prev and rows else None
    if has_prev and not rows:  # a page emptied meanwhile: back to the first
        prev_query = plain.query()
    return rows, next_query, prev_query


def plan_listing(engine: Engine, search: Search) -> Listing:
    """The page of plan versions the search asks for, newest first."""
    rows = page_plans(
        engine.store,
        agent_id=search.agent or None,
        status=None if search.status in ("", "all") else search.status,
        since=_epoch(search.since),
        until=_epoch(search.until),
        goal=search.text or None,
        limit=search.per + 1,
        after=_plan_mark("after", search.after),
        before=_plan_mark("before", search.before),
    )
    plans: list[PlanVersion] = [plan_version_of(r) for r in rows]
    found, next_query, prev_query = _pages(search, plans, [str(p.id) for p in plans])
    return Listing(found, search, next_query, prev_query, {})


def run_listing(engine: Engine, search: Search) -> Listing:
    """The page of runs the search asks for, newest first, with their plans' goals."""
    rows = page_runs(
        engine.store,
        agent_id=search.agent or None,
        status=search.status or None,
        since=_epoch(search.since),
        until=_epoch(search.until),
        goal=search.text or None,
        limit=search.per + 1,
        after=decode_run_mark("after", search.after) if search.after else None,
        before=decode_run_mark("before", search.before) if search.before else None,
    )
    marks = [encode_run_mark(r.created_at, r.id) for r in rows]
    runs: list[RunStatus] = [run_status_of(r, []) for r in rows]
    found, next_query, prev_query = _pages(search, runs, marks)
    goals = plan_goals(engine.store, {r.plan_id for r in found})
    return Listing(found, search, next_query, prev_query, goals)
