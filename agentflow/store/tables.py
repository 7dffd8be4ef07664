"""The stored shape of agents, plan versions, reviews, runs, steps and events.

Times are UTC epoch seconds (floats): they compare and index the same way on SQLite and
PostgreSQL, and the public models turn them into `datetime`s.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Index, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from agentflow.checkpoints import STEP_COLUMNS as STEP_COLUMNS
from agentflow.checkpoints import STEP_WRITE_FIELDS as STEP_WRITE_FIELDS
from agentflow.checkpoints import StepRecord as StepRecord
from agentflow.checkpoints import StepWrite as StepWrite
from agentflow.states import PlanState, RunState

# 1: the first release. 2: agents.updated_by and the agent_changes table.
# 3: runs.run_id, unique per agent (runs.id becomes the run's internal key).
# 4: runs.unsettled, the count of activations in a row that ended without settling the run.
# 5: events.idempotency_key (unique per run), runs.trace_context and the api_tokens table.
# 6: the run_history table (append-only; existing runs get their `created` entry).
# 7: agents.approvals (the two-person rule), plan_versions.approvals_required/approvals_given.
# 8: steps loses ix_steps_run_seq: every read of steps names the run, which the unique
#    (run_id, key) index finds, and each checkpoint wrote one index page fewer.
SCHEMA_VERSION = 8


_REGISTRY = registry()


class AgentflowTable(SQLModel, registry=_REGISTRY):
    """The base of agentflow's tables, on their own `MetaData`.

    So opening a store never creates (or inspects) the tables a host application declares on
    `SQLModel.metadata`.
    """


metadata = AgentflowTable.metadata


class MetaRow(AgentflowTable, table=True):
    """Key/value facts about the store itself, such as the schema version."""

    __tablename__ = "agentflow_meta"

    key: str = Field(primary_key=True, max_length=64)
    value: str


class AgentRow(AgentflowTable, table=True):
    """An agent: a tenant whose plans and runs are kept apart from every other agent's."""

    __tablename__ = "agents"

    id: str = Field(primary_key=True, max_length=128)
    tools: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, default=list)
    )
    review_policy: str = "required"
    # risk level -> distinct approvals a plan version of that risk needs (absent: one)
    approvals: dict[str, int] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict)
    )
    model: str | None = None
    created_at: float
    updated_at: float
    updated_by: str | None = None
    # How many of its runs may be running at once, across workers (None: no limit). A
    # nullable column with no data step: opening an older store adds it (no schema version).
    max_concurrent_runs: int | None = None


class AgentChangeRow(AgentflowTable, table=True):
    """An append-only record of one explicit change to an agent's tools, policy or model."""

    __tablename__ = "agent_changes"

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(index=True, max_length=128)
    changed_by: str
    before: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict)
    )
    after: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict)
    )
    created_at: float


class ToolRow(AgentflowTable, table=True):
    """A tool some host registered: where a worker without it can import it from."""

    __tablename__ = "tools"

    name: str = Field(primary_key=True, max_length=128)
    import_path: str | None = None
    side_effects: bool = True
    updated_at: float


class PlanVersionRow(AgentflowTable, table=True):
    """One immutable version of an agent's plan, numbered per agent."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("agent_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    agent_id: str = Field(index=True, max_length=128)
    version: int
    sha256: str = Field(max_length=64)
    source: str = Field(sa_column=Column(Text, nullable=False))
    summary: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict)
    )
    warnings: list[Any] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, default=list)
    )
    goal: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    goal_key: str | None = Field(default=None, index=True, max_length=64)
    catalogue_hash: str | None = Field(default=None, max_length=64)
    origin: str = "submitted"
    status: str = Field(default=PlanState.PENDING, index=True)
    parent_id: int | None = None
    model: str | None = None
    prompt_hash: str | None = None
    tokens: int | None = None
    cost: float | None = None
    generation: list[Any] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, default=list)
    )
    start_on_approval: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # the two-person rule: distinct approvals the version needs, and those given so far
    approvals_required: int = 1
    approvals_given: int = 0
    created_at: float
    decided_by: str | None = None
    decided_at: float | None = None
    decision_comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ReviewDecisionRow(AgentflowTable, table=True):
    """Every review decision ever taken, with who, when and why."""

    __tablename__ = "review_decisions"

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(index=True)
    decision: str
    reviewer: str
    comment: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: float


class RunRow(AgentflowTable, table=True):
    """One run of an agent's plan version: its state, its lease and when it is next due.

    `run_id` is the id the caller gave (or one agentflow generated), unique per agent, so two
    agents may both use "order-1". `id` is the run's key, unique in the store, which steps and
    events refer to: equal to `run_id` when agentflow generated the id (and for runs made before
    schema version 3), a fresh `run_...` key when the caller chose the id.
    """

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_due", "status", "wake_at"),
        # Each agent's runs in wake-up order, for claims that let agents take turns.
        Index("ix_runs_agent_due", "agent_id", "wake_at"),
        # The leased runs alone (a few), for the lease checks of an idle worker: without it,
        # each reads every run, which fills each connection's page cache as the table grows.
        # Partial: its WHERE clause is given per dialect by `partial_indexes_for`.
        Index("ix_runs_leased", "lease_owner", "lease_expires_at"),
        Index("ux_runs_agent_run_id", "agent_id", "run_id", unique=True),
        # The run list's order and its pages, for all runs and for one agent's.
        Index("ix_runs_created", "created_at", "id"),
        Index("ix_runs_agent_created", "agent_id", "created_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=128)
    run_id: str = Field(max_length=128)
    agent_id: str = Field(index=True, max_length=128)
    plan_id: int
    params: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict)
    )
    status: str = RunState.QUEUED
    output: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: float
    updated_at: float
    started_at: float | None = None
    ended_at: float | None = None
    wake_at: float | None = None
    waiting_for: str | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    control: str | None = None
    rebase: bool = False
    activations: int = 0
    unsettled: int = 0
    log: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # The W3C trace context of the run's trace, when OpenTelemetry traces it (see telemetry.py).
    trace_context: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))


class StepRow(AgentflowTable, table=True):
    """The checkpoint of one step: identity (name + occurrence), status, output, attempts."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("run_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=128)
    seq: int
    key: str
    name: str
    occurrence: int
    kind: str
    parent_key: str | None = None
    status: str
    output: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    attempts: int = 0
    input_hash: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    wake_at: float | None = None


class EventRow(AgentflowTable, table=True):
    """An event sent to a run; `consumed_by` names the wait that received it."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_inbox", "run_id", "type", "consumed_by"),
        Index("ux_events_run_key", "run_id", "idempotency_key", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=128)
    type: str = Field(max_length=256)
    payload: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: float
    consumed_by: str | None = None
    idempotency_key: str | None = Field(default=None, max_length=256)


class TokenRow(AgentflowTable, table=True):
    """An API token: only the SHA-256 of its secret is kept, with its role and scope.

    `role` is "agent" (then `agent_id` names the one agent it acts for), "reviewer" or "admin";
    `name` is who holds it (a reviewer's decisions are recorded under it).
    """

    __tablename__ = "api_tokens"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    agent_id: str | None = Field(default=None, max_length=128)
    secret_sha256: str = Field(max_length=64, unique=True)
    created_at: float
    revoked_at: float | None = None


class HistoryRow(AgentflowTable, table=True):
    """One entry of a run's history: inserted in the transition's own transaction, never changed.

    `seq` counts a run's entries from 1; `run_key` is the run's store-wide key.
    """

    __tablename__ = "run_history"
    __table_args__ = (UniqueConstraint("run_key", "seq", name="ux_run_history_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    run_key: str = Field(max_length=128)
    seq: int
    at: float
    kind: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=256)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    detail: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict)
    )


# The tables themselves, for SQLAlchemy Core statements.
# Rows read back are built with `model_construct` (no validation: the database typed them),
# which, unlike `__init__`, does not set up the mappers' attributes on first use.
_REGISTRY.configure()

#: The partial indexes' WHERE clauses, by index name; `partial_indexes_for` attaches them.
PARTIAL_INDEXES: dict[str, str] = {"ix_runs_leased": "lease_owner IS NOT NULL"}
_PARTIAL_DIALECTS = ("sqlite", "postgresql")


def partial_indexes_for(dialect_name: str) -> None:
    """Give the partial indexes their WHERE clause in this dialect's terms, before any DDL.

    Declaring the clause in the table for every dialect would load each dialect's SQLAlchemy
    module as the tables are defined: PostgreSQL's, with its drivers, costs about 20 ms of
    every process's start, on SQLite too. The clause is attached when a store migrates.
    """
    if dialect_name not in _PARTIAL_DIALECTS:
        return
    for index in RUNS.indexes:
        where = PARTIAL_INDEXES.get(str(index.name))
        if where is not None:
            index.dialect_options[dialect_name]["where"] = text(where)


AGENTS: Table = AgentRow.__table__  # type: ignore[attr-defined]
AGENT_CHANGES: Table = AgentChangeRow.__table__  # type: ignore[attr-defined]
TOOLS: Table = ToolRow.__table__  # type: ignore[attr-defined]
PLANS: Table = PlanVersionRow.__table__  # type: ignore[attr-defined]
DECISIONS: Table = ReviewDecisionRow.__table__  # type: ignore[attr-defined]
RUNS: Table = RunRow.__table__  # type: ignore[attr-defined]
STEPS: Table = StepRow.__table__  # type: ignore[attr-defined]
EVENTS: Table = EventRow.__table__  # type: ignore[attr-defined]
META: Table = MetaRow.__table__  # type: ignore[attr-defined]
HISTORY: Table = HistoryRow.__table__  # type: ignore[attr-defined]
