"""An idle worker reads no sleeping run: its checks stay cheap, and its page cache small.

A worker that has put its runs to sleep keeps asking when the next one is due and whether
another worker holds a lease. Each question is answered by an index (the leased runs' own,
`ix_runs_leased`, holds only runs under a lease): were one to read the whole runs table, every
connection's page cache would fill as the table grows, and each check would cost the time of
a full scan.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import event

from agentflow import Engine
from agentflow.store.dialect import _NEXT_DUE, _WAITING_STATES

PLAN = 'def run(event, step):\n    step.sleep_until("nap", event.params["at"])\n'
# A plan step that reads every row of runs (SCAN), except through the leased runs' index.
FULL_SCAN = re.compile(r"^SCAN (runs|candidates|busy_runs)\b(?!.*ix_runs_leased)")


def _statements_of_an_idle_worker(path: Path, sleeping: int) -> list[str]:
    engine = Engine(f"sqlite:///{path}", isolation="inline")
    seen: list[str] = []

    @event.listens_for(engine.store.engine, "connect")
    def _trace(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.set_trace_callback(seen.append)

    try:
        agent = engine.agent("sleepy", review="auto")
        agent.submit_plan(PLAN)
        for _ in range(sleeping):
            agent.start(params={"at": time.time() + 3600})
        engine.work()
        engine.store.engine.dispose()  # from here on, every connection is traced
        stop = threading.Event()
        loop = threading.Thread(target=engine.work, kwargs={"until_idle": False, "stop": stop})
        loop.start()
        deadline = time.monotonic() + 10
        # Idle once it has asked whether another worker holds a lease (before it sleeps).
        while not any("lease_owner !=" in s for s in seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        loop.join()
    finally:
        engine.close()
    return [s for s in seen if s.lstrip().upper().startswith("SELECT")]


def _full_scans(conn: sqlite3.Connection, sql: str, *params: object) -> list[str]:
    plan = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return [row[3] for row in plan if FULL_SCAN.match(row[3])]


def test_an_idle_worker_reads_no_sleeping_run(tmp_path: Path) -> None:
    path = tmp_path / "idle.db"
    statements = _statements_of_an_idle_worker(path, sleeping=20)
    assert any("lease_owner !=" in s for s in statements)  # the lease checks were seen
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE status = 'sleeping'").fetchone()[0]
        scans = {s: found for s in set(statements) if (found := _full_scans(conn, s))}
        # The due-time watcher's own query, on its own connection.
        watcher = _full_scans(conn, _NEXT_DUE, *_WAITING_STATES)
    assert scans == {}
    assert watcher == []
