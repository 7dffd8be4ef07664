"""A database made by an earlier agentflow is migrated in place and keeps working."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from agentflow import Engine
from agentflow.errors import SchemaVersionError
from agentflow.store import SCHEMA_VERSION
from tests.support.host import make_engine, read_ledger

# The schema of version 1 (the first release), exactly as it created its SQLite files.
SCHEMA_V1 = """
CREATE TABLE agentflow_meta ("key" VARCHAR(64) NOT NULL, value VARCHAR NOT NULL,
    PRIMARY KEY ("key"));
CREATE TABLE agents (id VARCHAR(128) NOT NULL, tools JSON NOT NULL,
    review_policy VARCHAR NOT NULL, model VARCHAR, created_at FLOAT NOT NULL,
    updated_at FLOAT NOT NULL, PRIMARY KEY (id));
CREATE TABLE events (id INTEGER NOT NULL, run_id VARCHAR(128) NOT NULL, type VARCHAR(256) NOT NULL,
    payload JSON, created_at FLOAT NOT NULL, consumed_by VARCHAR, PRIMARY KEY (id));
CREATE INDEX ix_events_inbox ON events (run_id, type, consumed_by);
CREATE TABLE plan_versions (id INTEGER NOT NULL, agent_id VARCHAR(128) NOT NULL,
    version INTEGER NOT NULL, sha256 VARCHAR(64) NOT NULL, source TEXT NOT NULL,
    summary JSON NOT NULL, warnings JSON NOT NULL, goal TEXT, goal_key VARCHAR(64),
    catalogue_hash VARCHAR(64), origin VARCHAR NOT NULL, status VARCHAR NOT NULL,
    parent_id INTEGER, model VARCHAR, prompt_hash VARCHAR, tokens INTEGER, cost FLOAT,
    generation JSON NOT NULL, start_on_approval JSON, created_at FLOAT NOT NULL,
    decided_by VARCHAR, decided_at FLOAT, decision_comment TEXT, PRIMARY KEY (id),
    UNIQUE (agent_id, version));
CREATE INDEX ix_plan_versions_goal_key ON plan_versions (goal_key);
CREATE INDEX ix_plan_versions_status ON plan_versions (status);
CREATE INDEX ix_plan_versions_agent_id ON plan_versions (agent_id);
CREATE TABLE review_decisions (id INTEGER NOT NULL, plan_id INTEGER NOT NULL,
    decision VARCHAR NOT NULL, reviewer VARCHAR NOT NULL, comment TEXT,
    created_at FLOAT NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_review_decisions_plan_id ON review_decisions (plan_id);
CREATE TABLE runs (id VARCHAR(128) NOT NULL, agent_id VARCHAR(128) NOT NULL,
    plan_id INTEGER NOT NULL, params JSON NOT NULL, status VARCHAR NOT NULL, output JSON,
    error JSON, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, started_at FLOAT,
    ended_at FLOAT, wake_at FLOAT, waiting_for VARCHAR, lease_owner VARCHAR,
    lease_expires_at FLOAT, control VARCHAR, rebase BOOLEAN NOT NULL,
    activations INTEGER NOT NULL, log TEXT NOT NULL, PRIMARY KEY (id));
CREATE INDEX ix_runs_agent_id ON runs (agent_id);
CREATE INDEX ix_runs_due ON runs (status, wake_at);
CREATE TABLE steps (id INTEGER NOT NULL, run_id VARCHAR(128) NOT NULL, seq INTEGER NOT NULL,
    "key" VARCHAR NOT NULL, name VARCHAR NOT NULL, occurrence INTEGER NOT NULL,
    kind VARCHAR NOT NULL, parent_key VARCHAR, status VARCHAR NOT NULL, output JSON, error JSON,
    attempts INTEGER NOT NULL, input_hash VARCHAR, started_at FLOAT, ended_at FLOAT,
    wake_at FLOAT, PRIMARY KEY (id), UNIQUE (run_id, "key"));
CREATE INDEX ix_steps_run_seq ON steps (run_id, seq);
CREATE TABLE tools (name VARCHAR(128) NOT NULL, import_path VARCHAR,
    side_effects BOOLEAN NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (name));
"""

PLAN = """
def run(event, step):
    orders = step.do("fetch", tools.list_orders)
    answer = step.wait_for_event("go", type="go", timeout="1 hour")
    return {"orders": len(orders), "go": answer.payload}
"""
FETCHED = [{"id": 1}, {"id": 2}, {"id": 3}]


def old_database(path: Path) -> str:
    """A version-1 SQLite file with an agent, an approved plan, and a run halfway through."""
    now = time.time()
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA_V1)
    conn.execute("INSERT INTO agentflow_meta VALUES ('schema_version', '1')")
    conn.execute(
        "INSERT INTO agents VALUES ('acme', ?, 'auto', NULL, ?, ?)",
        (json.dumps(["list_orders"]), now, now),
    )
    conn.execute(
        "INSERT INTO plan_versions (id, agent_id, version, sha256, source, summary, warnings,"
        " origin, status, generation, created_at, decided_by, decided_at)"
        " VALUES (1, 'acme', 1, 'x', ?, '{}', '[]', 'submitted', 'approved', '[]', ?, 'dana', ?)",
        (PLAN, now, now),
    )
    conn.execute(
        "INSERT INTO runs (id, agent_id, plan_id, params, status, created_at, updated_at,"
        " started_at, wake_at, rebase, activations, log)"
        " VALUES ('order-1', 'acme', 1, '{}', 'queued', ?, ?, ?, ?, 0, 1, '')",
        (now, now, now, now),
    )
    conn.execute(
        "INSERT INTO steps (run_id, seq, key, name, occurrence, kind, status, output, attempts,"
        " started_at, ended_at) VALUES ('order-1', 0, 'fetch#0', 'fetch', 0, 'do', 'complete',"
        " ?, 1, ?, ?)",
        (json.dumps(FETCHED), now, now),
    )
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def test_a_version_1_database_is_migrated_in_place_and_its_runs_go_on(tmp_path, ledger):
    url = old_database(tmp_path / "old.db")
    engine = make_engine(url)
    try:
        with engine.store.engine.connect() as conn:
            version = conn.exec_driver_sql(
                "SELECT value FROM agentflow_meta WHERE key = 'schema_version'"
            ).scalar()
        assert version == str(SCHEMA_VERSION)
        columns = {c["name"] for c in inspect(engine.store.engine).get_columns("agents")}
        assert "updated_by" in columns
        assert "run_id" in {c["name"] for c in inspect(engine.store.engine).get_columns("runs")}
        # version 8: checkpoints write no (run_id, seq) index; steps are still read in order
        step_indexes = {i["name"] for i in inspect(engine.store.engine).get_indexes("steps")}
        assert "ix_steps_run_seq" not in step_indexes

        agent = engine.agent("acme")
        assert agent.tools == ["list_orders"] and agent.review == "auto"
        change = agent.update(review="required", changed_by="dana")
        assert change is not None and change.before == {"review_policy": "auto"}

        run = agent.get_run("order-1")
        # a run from before the history (version 6) starts it with its `created` entry
        (created,) = run.history()
        assert (created.seq, created.kind, created.detail) == (1, "created", {"backfilled": True})
        engine.work()
        assert run.status().status == "waiting"
        run.send_event("go", "now")
        assert run.result(timeout=10) == {"orders": 3, "go": "now"}
        kinds = [entry.kind for entry in run.history()]
        assert kinds[:3] == ["created", "claimed", "suspended"] and kinds[-1] == "completed"
        assert kinds.count("created") == 1
        assert [e for e in read_ledger(ledger) if e["tool"] == "list_orders"] == []
        assert run.key == run.id == "order-1"

        # run ids became unique per agent: another agent may now use "order-1" too
        beta = engine.agent("beta", review="auto")
        beta.submit_plan('def run(event, step):\n    return "beta"\n')
        theirs = beta.start(run_id="order-1")
        assert theirs != run and theirs.result(timeout=10) == "beta"
        assert beta.start(run_id="order-1") == theirs
        indexes = {i["name"] for i in inspect(engine.store.engine).get_indexes("runs")}
        assert {"ux_runs_agent_run_id", "ix_runs_leased"} <= indexes
    finally:
        engine.close()

    reopened = Engine(url)
    try:
        assert reopened.get_agent("acme").review == "required"
    finally:
        reopened.close()


def test_columns_the_database_lacks_are_added_with_their_defaults(tmp_path):
    url = old_database(tmp_path / "old.db")
    raw = sqlite3.connect(tmp_path / "old.db")
    raw.execute("ALTER TABLE runs DROP COLUMN log")
    raw.execute("ALTER TABLE runs DROP COLUMN activations")
    raw.commit()
    raw.close()
    engine = Engine(url)
    try:
        row = engine.store.get_run("order-1")
        assert row.log == "" and row.activations == 0
    finally:
        engine.close()


def test_a_database_from_a_newer_agentflow_is_refused_untouched(tmp_path):
    url = old_database(tmp_path / "old.db")
    raw = sqlite3.connect(tmp_path / "old.db")
    raw.execute("UPDATE agentflow_meta SET value = '99' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(SchemaVersionError, match="schema version 99, newer than"):
        Engine(url)
    tables = set(inspect(create_engine(url)).get_table_names())
    assert "agent_changes" not in tables


def test_plans_decided_before_the_two_person_rule_count_their_one_approval(tmp_path):
    url = old_database(tmp_path / "old.db")
    raw = sqlite3.connect(tmp_path / "old.db")
    raw.execute(
        "INSERT INTO plan_versions (id, agent_id, version, sha256, source, summary, warnings,"
        " origin, status, generation, created_at) VALUES (2, 'acme', 2, 'y', ?,"
        " '{\"risk\": \"high\"}', '[]', 'submitted', 'pending', '[]', 0)",
        (PLAN,),
    )
    raw.commit()
    raw.close()
    engine = Engine(url)
    try:
        approved, pending = engine.get_plan(1), engine.get_plan(2)
        assert (approved.approvals_given, approved.approvals_required) == (1, 1)
        assert (pending.approvals_given, pending.approvals_required) == (0, 1)
        assert engine.get_agent("acme").approvals == {}
        # an agent made stricter holds its pending plan to the new rule
        engine.get_agent("acme").update(approvals={"high": 2}, changed_by="ops")
        assert engine.reviews.approve(2, reviewer="dana").approvals_text == "1 of 2 approvals"
    finally:
        engine.close()
