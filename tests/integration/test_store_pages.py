"""The list queries behind the review app's search and paging, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from agentflow.store.pages import agent_ids, page_plans, page_runs, plan_goals
from agentflow.store.tables import PLANS, RUNS

PLAN = 'def run(event, step):\n    return step.do("echo", tools.echo, event.params.get("n"))\n'
DAY = 86400.0
T0 = 1_780_000_000.0  # a fixed "now" the rows are dated against


def _set_created(engine: Any, table: Any, key: Any, created: float) -> None:
    with engine.store.engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == key).values(created_at=created))


def _seed(engine: Any) -> dict[str, Any]:
    """Two agents; shop has 7 runs a day apart on a "Refund 100% of order_7" goal, ops has 2."""
    shop = engine.agent("shop", tools=["echo"], review="auto")
    ops = engine.agent("ops", tools=["echo"], review="auto")
    refund = shop.submit_plan(PLAN, goal="Refund 100% of order_7")
    report = ops.submit_plan(PLAN + "# report\n", goal="Weekly REPORT to ops")
    runs = [shop.start({"n": i}, plan=refund.id, run_id=f"s{i}") for i in range(7)]
    runs += [ops.start({"n": i}, plan=report.id, run_id=f"o{i}") for i in range(2)]
    for age, run in enumerate(reversed(runs)):  # s0 is the oldest, o1 the newest
        _set_created(engine, RUNS, run.key, T0 - age * DAY)
    _set_created(engine, PLANS, refund.id, T0 - 10 * DAY)
    _set_created(engine, PLANS, report.id, T0 - 1 * DAY)
    return {"refund": refund, "report": report}


def _ids(rows: list[Any]) -> list[str]:
    return [r.run_id for r in rows]


def test_runs_come_newest_first_a_page_at_a_time_both_ways(engine):
    _seed(engine)
    store = engine.store
    everything = _ids(page_runs(store, limit=100))
    assert everything == ["o1", "o0", "s6", "s5", "s4", "s3", "s2", "s1", "s0"]
    pages, after = [], None
    while rows := page_runs(store, limit=4, after=after):
        pages.append(rows)
        after = (rows[-1].created_at, rows[-1].id)
    assert [_ids(rows) for rows in pages] == [everything[:4], everything[4:8], everything[8:]]
    # Back from the third page's first row: the second page again, still newest first.
    first_of_third = pages[2][0]
    back = page_runs(store, limit=4, before=(first_of_third.created_at, first_of_third.id))
    assert _ids(back) == everything[4:8]
    back_one = page_runs(store, limit=1, before=(first_of_third.created_at, first_of_third.id))
    assert _ids(back_one) == ["s1"]  # the nearest newer run, not the newest of all
    newest = page_runs(store, limit=1)[0]
    assert page_runs(store, limit=4, before=(newest.created_at, newest.id)) == []


def test_run_filters_by_agent_status_time_and_goal_text(engine):
    _seed(engine)
    store = engine.store
    assert _ids(page_runs(store, agent_id="ops")) == ["o1", "o0"]
    assert _ids(page_runs(store, status="complete")) == []
    assert len(page_runs(store, status="queued")) == 9
    window = page_runs(store, since=T0 - 3 * DAY, until=T0 - DAY)
    assert _ids(window) == ["s6", "s5"]  # since is inclusive (s5), until exclusive (o0)
    assert _ids(page_runs(store, goal="report")) == ["o1", "o0"]  # any case
    assert len(page_runs(store, goal="100% OF order_7")) == 7
    assert page_runs(store, goal="100_ of") == []  # `%` and `_` are taken literally
    assert _ids(page_runs(store, agent_id="shop", goal="refund", limit=2)) == ["s6", "s5"]


def test_runs_with_the_same_creation_time_are_paged_by_key_without_loss(engine):
    _seed(engine)
    with engine.store.engine.begin() as conn:
        conn.execute(update(RUNS).values(created_at=T0))
    seen, after = [], None
    while rows := page_runs(engine.store, limit=2, after=after):
        seen += _ids(rows)
        after = (rows[-1].created_at, rows[-1].id)
    assert sorted(seen) == sorted(["o0", "o1", *(f"s{i}" for i in range(7))])
    assert len(seen) == len(set(seen)) == 9


def test_plans_page_and_filter_the_same_way(engine):
    seeded = _seed(engine)
    refund, report = seeded["refund"].id, seeded["report"].id
    store = engine.store
    shop = engine.agent("shop")
    again = shop.submit_plan(PLAN + "# again\n", goal="refund again")  # approved: auto
    ids = [p.id for p in page_plans(store)]
    assert ids == [again.id, report, refund]
    assert [p.id for p in page_plans(store, limit=2)] == [again.id, report]
    assert [p.id for p in page_plans(store, limit=2, after=report)] == [refund]
    assert [p.id for p in page_plans(store, limit=2, before=refund)] == [again.id, report]
    assert [p.id for p in page_plans(store, goal="REFUND")] == [again.id, refund]
    assert [p.id for p in page_plans(store, status="approved", goal="refund")] == [again.id, refund]
    assert page_plans(store, status="rejected") == []
    assert [p.id for p in page_plans(store, agent_id="ops")] == [report]
    assert [p.id for p in page_plans(store, since=T0 - 2 * DAY, until=T0)] == [report]
    assert plan_goals(store, {refund, report}) == {
        refund: "Refund 100% of order_7",
        report: "Weekly REPORT to ops",
    }
    assert plan_goals(store, set()) == {}
    assert agent_ids(store) == ["ops", "shop"]
