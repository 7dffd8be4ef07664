"""`Store`: the one gateway through which agentflow reads and writes its database."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    bindparam,
    case,
    cast,
    create_engine,
    delete,
    event,
    extract,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine as SAEngine
from sqlalchemy.exc import IntegrityError

from agentflow.errors import (
    ConfigurationError,
    LeaseLost,
    NotFound,
    RunStateError,
    SchemaVersionError,
)
from agentflow.plain import safe_text
from agentflow.store.tables import (
    SCHEMA_VERSION,
    AgentChangeRow,
    AgentRow,
    EventRow,
    MetaRow,
    PlanVersionRow,
    ReviewDecisionRow,
    RunRow,
    StepRecord,
    StepRow,
    ToolRow,
    metadata,
)

DEFAULT_DATABASE_URL = "sqlite:///agentflow.db"
CLAIMABLE = ("queued", "sleeping", "waiting", "running")
TERMINAL = ("complete", "errored", "terminated")
DUE_CHANNEL = "agentflow_due"
_SUSPENDED = ("sleeping", "waiting")

_agents = AgentRow.__table__  # type: ignore[attr-defined]
_agent_changes = AgentChangeRow.__table__  # type: ignore[attr-defined]
_plans = PlanVersionRow.__table__  # type: ignore[attr-defined]
_decisions = ReviewDecisionRow.__table__  # type: ignore[attr-defined]
_runs = RunRow.__table__  # type: ignore[attr-defined]
_steps = StepRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_meta = MetaRow.__table__  # type: ignore[attr-defined]
_tools = ToolRow.__table__  # type: ignore[attr-defined]


# (version, step): data changes a database older than `version` needs once its columns exist.
def _public_run_ids(conn: Connection) -> None:
    # Before version 3 a run's id was its key, unique in the whole store.
    conn.execute(
        update(_runs)
        .where(or_(_runs.c.run_id.is_(None), _runs.c.run_id == ""))
        .values(run_id=_runs.c.id)
    )


_DATA_MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(3, _public_run_ids)]


# Statements on the hot path of every checkpoint, built once.
_FENCE = (
    update(_runs)
    .where(_runs.c.id == bindparam("fence_id"), _runs.c.lease_owner == bindparam("fence_owner"))
    .values(updated_at=bindparam("fence_now"), unsettled=0)
    .returning(_runs.c.control)
)
_UPDATE_STEP = update(_steps).where(
    _steps.c.run_id == bindparam("w_run_id"),
    _steps.c.key == bindparam("w_key"),
    _steps.c.status != "complete",
)
_INSERT_STEP = insert(_steps)
# A run claimed while still `running` lost its last activation before it settled.
_UNSETTLED_ON_CLAIM = case(
    (_runs.c.status == "running", _runs.c.unsettled + 1), else_=_runs.c.unsettled
)
# Checked inside every claim's own statement: a run whose plan version is not approved (any
# more) is never leased, whatever a reader saw a moment before.
_PLAN_APPROVED = (
    select(_plans.c.id)
    .where(_plans.c.id == _runs.c.plan_id, _plans.c.status == "approved")
    .exists()
)


_MIGRATION_LOCK_KEY = 0x61676E74666C6F77  # "agntflow": the advisory lock held while migrating


def _stored_schema_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table(_meta.name):
        return None
    value = conn.execute(select(_meta.c.value).where(_meta.c.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def _sql_literal(conn: Connection, value: Any) -> str:
    if isinstance(value, bool):
        return (
            ("true" if value else "false") if conn.dialect.name == "postgresql" else str(int(value))
        )
    if isinstance(value, int | float):
        return repr(value)
    text_value = value if isinstance(value, str) else json.dumps(value)
    return "'" + text_value.replace("'", "''") + "'"


def _column_default(column: Any) -> tuple[bool, Any]:
    """(has one, value): the column's declared default, or a zero value if it is NOT NULL."""
    default = column.default
    if default is not None and default.is_scalar:
        return True, default.arg
    if default is not None and default.is_callable:
        # SQLAlchemy wraps a plain factory (list, dict) so that it takes the execution context.
        return True, default.arg(None)
    if column.nullable:
        return False, None
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = str
    zero = {bool: False, int: 0, float: 0.0, dict: {}, list: []}.get(kind, "")
    return True, zero


def _add_missing_columns(conn: Connection) -> None:
    """ALTER TABLE ADD COLUMN every declared column the live database lacks."""
    inspector = inspect(conn)
    preparer = conn.dialect.identifier_preparer
    for table in metadata.sorted_tables:
        live = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in live:
                continue
            ddl = f"{preparer.format_column(column)} {column.type.compile(dialect=conn.dialect)}"
            has_default, value = _column_default(column)
            if has_default and value is not None:
                ddl += f" DEFAULT {_sql_literal(conn, value)}"
            if not column.nullable:
                ddl += " NOT NULL"
            conn.exec_driver_sql(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {ddl}")


def _add_missing_indexes(conn: Connection) -> None:
    """Build every declared index the live database lacks (new tables already have theirs)."""
    inspector = inspect(conn)
    for table in metadata.sorted_tables:
        live = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in live:
                index.create(conn)


def _make_engine(url: str) -> SAEngine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take the write lock at BEGIN so that read-then-write transactions never deadlock.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ConfigurationError(
        f"unsupported database URL {url!r}: use sqlite:///FILE or postgresql+psycopg://..."
    )


class Store:
    """Repository over the agentflow tables; the runtime never writes SQL itself.

    Args:
        url: a SQLAlchemy URL, `sqlite:///agentflow.db` or `postgresql+psycopg://...`.
    """

    def __init__(self, url: str = DEFAULT_DATABASE_URL) -> None:
        self.url = url
        self.is_postgres = url.startswith("postgresql")
        self.engine = _make_engine(url)
        try:
            self._migrate()
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _migrate(self) -> None:
        """Bring the database to this agentflow's schema, in place, in one transaction.

        Missing tables are created; missing columns are added to existing tables (with their
        declared default, or a zero value for a NOT NULL column without one) and missing
        indexes are built, by comparing the declared tables to the live database; then the
        data steps for every version between the stored one and `SCHEMA_VERSION` run, and finally
        the missing indexes are built.
        """
        with self._tx() as conn:
            if self.is_postgres:
                # Two processes starting on a fresh or old database must not both migrate.
                conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            found = _stored_schema_version(conn)
            if found is not None and found > SCHEMA_VERSION:
                raise SchemaVersionError(
                    f"database {self.url} has schema version {found}, newer than this "
                    f"agentflow's {SCHEMA_VERSION}: upgrade agentflow to use it"
                )
            metadata.create_all(conn)
            _add_missing_columns(conn)
            if found is None:
                conn.execute(insert(_meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif found < SCHEMA_VERSION:
                for version, step in _DATA_MIGRATIONS:
                    if found < version:
                        step(conn)
                conn.execute(
                    update(_meta)
                    .where(_meta.c.key == "schema_version")
                    .values(value=str(SCHEMA_VERSION))
                )
            # After the data steps: a unique index may need the values they fill in.
            _add_missing_indexes(conn)

    # --- agents ------------------------------------------------------------------------

    def create_agent(
        self, agent_id: str, tools: list[str], review_policy: str, model: str | None
    ) -> tuple[AgentRow, bool]:
        """Insert the agent unless it exists; returns (stored row, created). Never updates."""
        now = time.time()
        with self._tx() as conn:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(_agents).values(
                            id=agent_id,
                            tools=tools,
                            review_policy=review_policy,
                            model=model,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                created = True
            except IntegrityError:
                created = False
            row = conn.execute(select(_agents).where(_agents.c.id == agent_id)).first()
        assert row is not None
        return AgentRow(**row._mapping), created

    def update_agent(self, agent_id: str, changed_by: str, **fields: Any) -> AgentChangeRow | None:
        """Change an agent's `tools`, `review_policy` or `model`, and record who and when.

        Only the fields whose value differs from the stored one are written; the change is
        appended to `agent_changes` in the same transaction, with the values before and after.

        Returns:
            The recorded change, or None when every given value was already stored.

        Raises:
            NotFound: there is no such agent.
        """
        assert set(fields) <= {"tools", "review_policy", "model"}
        now = time.time()
        query = select(_agents).where(_agents.c.id == agent_id)
        if self.is_postgres:
            query = query.with_for_update()
        with self._tx() as conn:
            row = conn.execute(query).first()
            if row is None:
                raise NotFound(f"no agent named {agent_id!r}")
            current = row._mapping
            before = {k: current[k] for k, v in fields.items() if current[k] != v}
            if not before:
                return None
            after = {k: fields[k] for k in before}
            conn.execute(
                update(_agents)
                .where(_agents.c.id == agent_id)
                .values(**after, updated_at=now, updated_by=changed_by)
            )
            result = conn.execute(
                insert(_agent_changes).values(
                    agent_id=agent_id,
                    changed_by=changed_by,
                    before=before,
                    after=after,
                    created_at=now,
                )
            )
            change_id = result.inserted_primary_key[0]  # type: ignore[index]
        return AgentChangeRow(
            id=change_id,
            agent_id=agent_id,
            changed_by=changed_by,
            before=before,
            after=after,
            created_at=now,
        )

    def list_agent_changes(self, agent_id: str) -> list[AgentChangeRow]:
        """Every recorded change to an agent, oldest first."""
        query = (
            select(_agent_changes)
            .where(_agent_changes.c.agent_id == agent_id)
            .order_by(_agent_changes.c.id)
        )
        with self._tx() as conn:
            return [AgentChangeRow(**r._mapping) for r in conn.execute(query)]

    def _upsert(
        self, table: Any, key: Any, value: Any, values: dict[str, Any], on_insert: dict[str, Any]
    ) -> None:
        """Update the row whose `key` is `value`, or insert it (another process may race us)."""
        with self._tx() as conn:
            if conn.execute(update(table).where(key == value).values(**values)).rowcount:
                return
            try:
                with conn.begin_nested():
                    conn.execute(insert(table).values({key.name: value, **on_insert, **values}))
            except IntegrityError:
                conn.execute(update(table).where(key == value).values(**values))

    def get_agent(self, agent_id: str) -> AgentRow | None:
        """The agent's row, or None."""
        with self._tx() as conn:
            row = conn.execute(select(_agents).where(_agents.c.id == agent_id)).first()
        return AgentRow(**row._mapping) if row else None

    # --- tools -------------------------------------------------------------------------

    def record_tool(self, name: str, import_path: str | None, side_effects: bool) -> None:
        """Remember where a tool can be imported from, for workers that lack it."""
        values = {
            "import_path": import_path,
            "side_effects": side_effects,
            "updated_at": time.time(),
        }
        self._upsert(_tools, _tools.c.name, name, values, {})

    def get_tool(self, name: str) -> ToolRow | None:
        """What the store knows of a tool, or None."""
        with self._tx() as conn:
            row = conn.execute(select(_tools).where(_tools.c.name == name)).first()
        return ToolRow(**row._mapping) if row else None

    # --- plan versions -----------------------------------------------------------------

    def add_plan_version(self, **fields: Any) -> PlanVersionRow:
        """Store a new plan version, numbered after the agent's last one."""
        agent_id = fields["agent_id"]
        for _ in range(20):
            with self._tx() as conn:
                last = conn.execute(
                    select(func.max(_plans.c.version)).where(_plans.c.agent_id == agent_id)
                ).scalar()
                try:
                    with conn.begin_nested():
                        result = conn.execute(
                            insert(_plans).values(
                                version=(last or 0) + 1, created_at=time.time(), **fields
                            )
                        )
                except IntegrityError:
                    continue
                plan_id = result.inserted_primary_key[0]  # type: ignore[index]
            return self.get_plan(plan_id)
        raise ConfigurationError(f"could not number a new plan version for agent {agent_id!r}")

    def get_plan(self, plan_id: int) -> PlanVersionRow:
        """The plan version with this id; raises NotFound."""
        with self._tx() as conn:
            row = conn.execute(select(_plans).where(_plans.c.id == plan_id)).first()
        if row is None:
            raise NotFound(f"no plan version with id {plan_id}")
        return PlanVersionRow(**row._mapping)

    def list_plans(
        self, agent_id: str | None = None, status: str | None = None
    ) -> list[PlanVersionRow]:
        """Plan versions, newest first, filtered by agent and status."""
        query = select(_plans).order_by(_plans.c.id.desc())
        if agent_id is not None:
            query = query.where(_plans.c.agent_id == agent_id)
        if status is not None:
            query = query.where(_plans.c.status == status)
        with self._tx() as conn:
            return [PlanVersionRow(**r._mapping) for r in conn.execute(query)]

    def latest_plan(self, agent_id: str, status: str = "approved") -> PlanVersionRow | None:
        """The agent's newest plan version with that status."""
        query = (
            select(_plans)
            .where(_plans.c.agent_id == agent_id, _plans.c.status == status)
            .order_by(_plans.c.version.desc())
            .limit(1)
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return PlanVersionRow(**row._mapping) if row else None

    def find_reusable_plan(
        self, agent_id: str, goal_key: str, catalogue_hash: str
    ) -> PlanVersionRow | None:
        """The newest approved plan for the same normalised goal and tool catalogue."""
        query = (
            select(_plans)
            .where(
                _plans.c.agent_id == agent_id,
                _plans.c.goal_key == goal_key,
                _plans.c.catalogue_hash == catalogue_hash,
                _plans.c.status == "approved",
            )
            .order_by(_plans.c.version.desc())
            .limit(1)
        )
        with self._tx() as conn:
            row = conn.execute(query).first()
        return PlanVersionRow(**row._mapping) if row else None

    def update_plan(self, plan_id: int, **fields: Any) -> None:
        """Set mutable bookkeeping fields of a plan version (never its source)."""
        assert "source" not in fields and "sha256" not in fields
        with self._tx() as conn:
            conn.execute(update(_plans).where(_plans.c.id == plan_id).values(**fields))

    def decide_plan(
        self, plan_id: int, decision: str, reviewer: str, comment: str | None
    ) -> PlanVersionRow:
        """Record a review decision on a pending plan version, in one conditional write.

        Only a `pending` version can be decided, so of two reviewers deciding at once exactly
        one wins. Rejecting a version also settles every run still pinned to it that has not
        ended (queued, sleeping, waiting, paused, or running under a lease, which the rejection
        revokes) as `errored` with the reason, so a rejected plan never runs another step.

        Raises:
            NotFound: there is no plan version with this id.
            RunStateError: the version was already decided (by another reviewer, perhaps).
        """
        now = time.time()
        with self._tx() as conn:
            found = conn.execute(
                update(_plans)
                .where(_plans.c.id == plan_id, _plans.c.status == "pending")
                .values(
                    status=decision, decided_by=reviewer, decided_at=now, decision_comment=comment
                )
            )
            if found.rowcount == 0:
                current = conn.execute(
                    select(_plans.c.status, _plans.c.decided_by).where(_plans.c.id == plan_id)
                ).first()
                if current is None:
                    raise NotFound(f"no plan version with id {plan_id}")
                by = f" by {current.decided_by}" if current.decided_by else ""
                raise RunStateError(
                    f"plan version {plan_id} is already {current.status}{by}; "
                    "a decision is final: submit a new version instead"
                )
            conn.execute(
                insert(_decisions).values(
                    plan_id=plan_id,
                    decision=decision,
                    reviewer=reviewer,
                    comment=comment,
                    created_at=now,
                )
            )
            if decision == "rejected":
                self._settle_rejected_runs(conn, plan_id, reviewer, comment, now)
            else:
                self._start_queued_on_approval(conn, plan_id, now)
        return self.get_plan(plan_id)

    def _settle_rejected_runs(
        self, conn: Connection, plan_id: int, reviewer: str, comment: str | None, now: float
    ) -> None:
        version = conn.execute(select(_plans.c.version).where(_plans.c.id == plan_id)).scalar()
        reason = f"plan version {version} was rejected by {reviewer}"
        conn.execute(
            update(_runs)
            .where(_runs.c.plan_id == plan_id, _runs.c.status.not_in(TERMINAL))
            .values(
                status="errored",
                error={
                    "type": "PlanRejected",
                    "message": reason + (f": {comment}" if comment else ""),
                },
                ended_at=now,
                updated_at=now,
                wake_at=None,
                waiting_for=None,
                control=None,
                lease_owner=None,
                lease_expires_at=None,
            )
        )

    def list_decisions(self, plan_id: int) -> list[ReviewDecisionRow]:
        """Every review decision on a plan version, oldest first."""
        query = select(_decisions).where(_decisions.c.plan_id == plan_id).order_by(_decisions.c.id)
        with self._tx() as conn:
            return [ReviewDecisionRow(**r._mapping) for r in conn.execute(query)]

    # --- runs --------------------------------------------------------------------------

    def create_run(
        self,
        run_id: str,
        agent_id: str,
        plan_id: int,
        params: dict[str, Any],
        key: str | None = None,
    ):
        """Insert a queued run; returns (row, created).

        The same `run_id` never makes two runs of one agent: the second call returns the
        first. Another agent's run with the same id is a different run. `key` is the run's
        store-wide key (default: `run_id`, for ids agentflow generated itself).
        """
        try:
            with self._tx() as conn:
                self._insert_queued_run(conn, run_id, agent_id, plan_id, params, key, time.time())
            created = True
        except IntegrityError:
            created = False
        return self.find_run(agent_id, run_id), created

    def _insert_queued_run(
        self,
        conn: Connection,
        run_id: str,
        agent_id: str,
        plan_id: int,
        params: dict[str, Any],
        key: str | None,
        now: float,
    ) -> None:
        conn.execute(
            insert(_runs).values(
                id=key or run_id,
                run_id=run_id,
                agent_id=agent_id,
                plan_id=plan_id,
                params=params,
                status="queued",
                created_at=now,
                updated_at=now,
                wake_at=now,
                log="",
            )
        )
        self._signal_due(conn)

    def _start_queued_on_approval(self, conn: Connection, plan_id: int, now: float) -> None:
        """Start the run a pending version was queued with, in its approval's transaction, so
        that no crash can leave an approved plan whose run never starts. A repaired version's
        restart of its failed run is left to `Reviews.approve`."""
        row = conn.execute(
            select(_plans.c.agent_id, _plans.c.start_on_approval).where(_plans.c.id == plan_id)
        ).first()
        if row is None or not row.start_on_approval:
            return
        request = dict(row.start_on_approval)
        run_id = request.get("run_id")
        if not run_id or request.get("restart_run_id"):
            return
        exists = conn.execute(
            select(_runs.c.id).where(_runs.c.agent_id == row.agent_id, _runs.c.run_id == run_id)
        ).first()
        if exists is None:
            key = f"run_{uuid.uuid4().hex}"
            self._insert_queued_run(
                conn, run_id, row.agent_id, plan_id, dict(request.get("params") or {}), key, now
            )
        conn.execute(update(_plans).where(_plans.c.id == plan_id).values(start_on_approval=None))

    def get_run(self, key: str) -> RunRow:
        """The run with this store-wide key; raises NotFound."""
        with self._tx() as conn:
            row = conn.execute(select(_runs).where(_runs.c.id == key)).first()
        if row is None:
            raise NotFound(f"no run with id {key!r}")
        return RunRow(**row._mapping)

    def find_run(self, agent_id: str, run_id: str) -> RunRow:
        """The agent's run with this id; raises NotFound."""
        query = select(_runs).where(_runs.c.agent_id == agent_id, _runs.c.run_id == run_id)
        with self._tx() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"agent {agent_id!r} has no run {run_id!r}")
        return RunRow(**row._mapping)

    def runs_with_id(self, run_id: str, limit: int = 10) -> list[RunRow]:
        """Every agent's run with this id (for the operator's lookups), oldest first."""
        query = select(_runs).where(_runs.c.run_id == run_id).order_by(_runs.c.created_at)
        with self._tx() as conn:
            return [RunRow(**r._mapping) for r in conn.execute(query.limit(limit))]

    def list_runs(
        self, agent_id: str | None = None, status: str | None = None, limit: int = 1000
    ) -> list[RunRow]:
        """Runs, newest first, filtered by agent and status."""
        query = select(_runs).order_by(_runs.c.created_at.desc()).limit(limit)
        if agent_id is not None:
            query = query.where(_runs.c.agent_id == agent_id)
        if status is not None:
            query = query.where(_runs.c.status == status)
        with self._tx() as conn:
            return [RunRow(**r._mapping) for r in conn.execute(query)]

    def _lease_clock(self) -> Any:
        """The clock leases are measured by: the database server's on PostgreSQL, so workers
        on machines whose clocks disagree never see a live lease as expired."""
        if self.is_postgres:
            return cast(extract("epoch", func.clock_timestamp()), Float)
        return time.time()

    def _claimable(self, now: float) -> Any:
        return (
            _runs.c.status.in_(CLAIMABLE),
            _runs.c.wake_at <= now,
            or_(_runs.c.lease_owner.is_(None), _runs.c.lease_expires_at < self._lease_clock()),
            _PLAN_APPROVED,
        )

    def claim_run(self, run_id: str, owner: str, lease_seconds: float) -> RunRow | None:
        """Lease one run to `owner` if it is due, nobody else holds it, and its plan version
        is approved (checked in the same statement, so a rejection can never be raced)."""
        now = time.time()
        with self._tx() as conn:
            found = conn.execute(
                update(_runs)
                .where(_runs.c.id == run_id, *self._claimable(now))
                .values(
                    lease_owner=owner,
                    lease_expires_at=self._lease_clock() + lease_seconds,
                    status="running",
                    wake_at=now,
                    started_at=func.coalesce(_runs.c.started_at, now),
                    activations=_runs.c.activations + 1,
                    unsettled=_UNSETTLED_ON_CLAIM,
                    updated_at=now,
                )
            )
            if found.rowcount == 0:
                return None
            row = conn.execute(select(_runs).where(_runs.c.id == run_id)).first()
        return RunRow(**row._mapping) if row else None

    def claim_due_runs(self, owner: str, lease_seconds: float, limit: int = 1) -> list[RunRow]:
        """Lease up to `limit` due runs of approved plan versions to `owner`, earliest first."""
        now = time.time()
        query = (
            select(_runs.c.id)
            .where(*self._claimable(now))
            .order_by(_runs.c.wake_at)
            .limit(limit * 4 if not self.is_postgres else limit)
        )
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        with self._tx() as conn:
            candidates = [r[0] for r in conn.execute(query)]
            if self.is_postgres:
                claimed = []
                for run_id in candidates:
                    conn.execute(
                        update(_runs)
                        .where(_runs.c.id == run_id)
                        .values(
                            lease_owner=owner,
                            lease_expires_at=self._lease_clock() + lease_seconds,
                            status="running",
                            wake_at=now,
                            started_at=func.coalesce(_runs.c.started_at, now),
                            activations=_runs.c.activations + 1,
                            unsettled=_UNSETTLED_ON_CLAIM,
                            updated_at=now,
                        )
                    )
                    claimed.append(run_id)
                candidates = []
        if self.is_postgres:
            return [self.get_run(run_id) for run_id in claimed]
        rows: list[RunRow] = []
        for run_id in candidates:
            row = self.claim_run(run_id, owner, lease_seconds)
            if row is not None:
                rows.append(row)
                if len(rows) >= limit:
                    break
        return rows

    def next_wake_at(self) -> float | None:
        """The earliest time at which some run becomes due (leased runs: when the lease ends)."""
        with self._tx() as conn:
            due = conn.execute(
                select(func.min(_runs.c.wake_at)).where(
                    _runs.c.status.in_(("queued", "sleeping", "waiting")),
                    _runs.c.lease_owner.is_(None),
                    _PLAN_APPROVED,
                )
            ).scalar()
            expiry = conn.execute(
                select(func.min(_runs.c.lease_expires_at)).where(_runs.c.status == "running")
            ).scalar()
        times = [t for t in (due, expiry) if t is not None]
        return min(times) if times else None

    def renew_leases(self, owner: str, run_ids: Iterable[str], lease_seconds: float) -> set[str]:
        """Extend the leases `owner` still holds; returns the ids it holds no longer."""
        ids = list(run_ids)
        if not ids:
            return set()
        with self._tx() as conn:
            conn.execute(
                update(_runs)
                .where(_runs.c.id.in_(ids), _runs.c.lease_owner == owner)
                .values(lease_expires_at=self._lease_clock() + lease_seconds)
            )
            held = {
                r[0]
                for r in conn.execute(
                    select(_runs.c.id).where(_runs.c.id.in_(ids), _runs.c.lease_owner == owner)
                )
            }
        return set(ids) - held

    def finish_activation(self, run_id: str, owner: str, **fields: Any) -> bool:
        """Write the run's new state and release its lease, if `owner` still holds it.

        A run that suspends to wait for an event type it already has in its inbox is made due
        at once, so an event sent during the activation is never missed.
        """
        now = time.time()
        with self._tx() as conn:
            found = conn.execute(
                update(_runs)
                .where(_runs.c.id == run_id, _runs.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None, updated_at=now, **fields)
            )
            if found.rowcount == 0:
                return False
            if fields.get("wake_at") is not None:
                self._signal_due(conn)
            if fields.get("status") == "waiting" and fields.get("waiting_for"):
                pending = conn.execute(
                    select(_events.c.id)
                    .where(
                        _events.c.run_id == run_id,
                        _events.c.type == fields["waiting_for"],
                        _events.c.consumed_by.is_(None),
                    )
                    .limit(1)
                ).first()
                if pending is not None:
                    conn.execute(update(_runs).where(_runs.c.id == run_id).values(wake_at=now))
        return True

    def requeue_unsettled(
        self, run_id: str, owner: str, wake_at: float, error: dict[str, Any]
    ) -> bool:
        """Give the run back to the queue after an activation that could not settle it (its
        sandbox died), counting that against the run; False if `owner` lost the lease."""
        now = time.time()
        with self._tx() as conn:
            found = conn.execute(
                update(_runs)
                .where(_runs.c.id == run_id, _runs.c.lease_owner == owner)
                .values(
                    lease_owner=None,
                    lease_expires_at=None,
                    status="queued",
                    wake_at=wake_at,
                    error=error,
                    unsettled=_runs.c.unsettled + 1,
                    updated_at=now,
                )
            )
            if found.rowcount:
                self._signal_due(conn)
        return found.rowcount > 0

    def update_run(self, run_id: str, *, when: Sequence[Any] = (), **fields: Any) -> bool:
        """Set fields of a run, optionally only when extra conditions hold; True if it matched."""
        fields.setdefault("updated_at", time.time())
        with self._tx() as conn:
            found = conn.execute(update(_runs).where(_runs.c.id == run_id, *when).values(**fields))
            if found.rowcount and fields.get("wake_at") is not None:
                self._signal_due(conn)
        return found.rowcount > 0

    def run_columns(self) -> Any:
        """The run table's columns, for conditions passed to `update_run`."""
        return _runs.c

    def append_log(self, run_id: str, text: str, limit: int) -> None:
        """Append to a run's captured `print` output, keeping at most `limit` characters."""
        with self._tx() as conn:
            current = conn.execute(select(_runs.c.log).where(_runs.c.id == run_id)).scalar() or ""
            combined = safe_text((current + text)[-limit:])
            conn.execute(update(_runs).where(_runs.c.id == run_id).values(log=combined))

    # --- steps -------------------------------------------------------------------------

    def load_steps(self, run_id: str) -> list[StepRecord]:
        """Every step record of a run, in order, in one query."""
        query = select(_steps).where(_steps.c.run_id == run_id).order_by(_steps.c.seq, _steps.c.id)
        with self._tx() as conn:
            return [StepRecord(**row._mapping) for row in conn.execute(query)]

    def save_step(self, owner: str, record: dict[str, Any]) -> str | None:
        """Insert or update a step record, fenced by the run's lease.

        A record already `complete` is never overwritten: a step's result is written once.

        Returns:
            The run's pending control request ("pause", "terminate" or None).

        Raises:
            LeaseLost: the lease moved to another worker, or the step was completed elsewhere.
        """
        with self._tx() as conn:
            control = self._fence(conn, record["run_id"], owner)
            self._write_step(conn, record)
        return control

    def save_steps(self, owner: str, run_id: str, records: Sequence[dict[str, Any]]) -> str | None:
        """Write several step records of one run in one transaction, in the order given."""
        with self._tx() as conn:
            control = self._fence(conn, run_id, owner)
            for record in records:
                self._write_step(conn, record)
        return control

    def _fence(self, conn: Connection, run_id: str, owner: str) -> str | None:
        held = conn.execute(
            _FENCE, {"fence_id": run_id, "fence_owner": owner, "fence_now": time.time()}
        ).first()
        if held is None:
            raise LeaseLost(run_id)
        return held[0]

    def _write_step(self, conn: Connection, record: dict[str, Any]) -> None:
        # A record this activation has not seen is inserted; a clash means another worker
        # wrote it, and the whole transaction rolls back.
        if not record.pop("fresh", False):
            where = {"w_run_id": record["run_id"], "w_key": record["key"]}
            if conn.execute(_UPDATE_STEP, {**record, **where}).rowcount:
                return
        try:
            conn.execute(_INSERT_STEP, record)
        except IntegrityError as exc:
            raise LeaseLost(record["run_id"]) from exc

    def delete_steps(self, run_id: str, from_seq: int = 0) -> None:
        """Drop a run's step records from `from_seq` on, re-opening the events they consumed."""
        with self._tx() as conn:
            self._delete_steps(conn, run_id, from_seq)

    def truncate_steps_in_activation(self, owner: str, run_id: str, from_seq: int) -> None:
        """Like `delete_steps`, fenced by the lease (used when a run moves to a new plan)."""
        with self._tx() as conn:
            self._fence(conn, run_id, owner)
            self._delete_steps(conn, run_id, from_seq)

    def _delete_steps(self, conn: Connection, run_id: str, from_seq: int) -> None:
        doomed = [
            r[0]
            for r in conn.execute(
                select(_steps.c.key).where(_steps.c.run_id == run_id, _steps.c.seq >= from_seq)
            )
        ]
        if doomed:
            conn.execute(
                update(_events)
                .where(_events.c.run_id == run_id, _events.c.consumed_by.in_(doomed))
                .values(consumed_by=None)
            )
        conn.execute(delete(_steps).where(_steps.c.run_id == run_id, _steps.c.seq >= from_seq))

    # --- events ------------------------------------------------------------------------

    def add_event(
        self, run_id: str, event_type: str, payload: Any, idempotency_key: str | None = None
    ) -> EventRow | None:
        """Buffer an event for a run, and make the run due if it waits for that type.

        With an `idempotency_key`, an event this run already received under the same key is
        not added again: the call returns None and changes nothing.
        """
        now = time.time()
        seen = select(_events.c.id).where(
            _events.c.run_id == run_id, _events.c.idempotency_key == idempotency_key
        )
        try:
            with self._tx() as conn:
                if idempotency_key is not None and conn.execute(seen).first():
                    return None
                result = conn.execute(
                    insert(_events).values(
                        run_id=run_id,
                        type=event_type,
                        payload=payload,
                        created_at=now,
                        idempotency_key=idempotency_key,
                    )
                )
                conn.execute(
                    update(_runs)
                    .where(
                        _runs.c.id == run_id,
                        _runs.c.status == "waiting",
                        _runs.c.waiting_for == event_type,
                    )
                    .values(wake_at=now)
                )
                event_id = result.inserted_primary_key[0]  # type: ignore[index]
                self._signal_due(conn)
        except IntegrityError:
            if idempotency_key is None:
                raise
            return None  # the same key, sent at the same moment by another process
        return EventRow(
            id=event_id,
            run_id=run_id,
            type=event_type,
            payload=payload,
            created_at=now,
            idempotency_key=idempotency_key,
        )

    def event_received(self, run_id: str, idempotency_key: str) -> bool:
        """Whether the run already received an event under this idempotency key."""
        query = select(_events.c.id).where(
            _events.c.run_id == run_id, _events.c.idempotency_key == idempotency_key
        )
        with self._tx() as conn:
            return conn.execute(query.limit(1)).first() is not None

    def take_event(
        self, owner: str, run_id: str, event_type: str, step_record: dict[str, Any]
    ) -> EventRow | None:
        """Consume the oldest undelivered event of a type and complete the wait step with it."""
        with self._tx() as conn:
            self._fence(conn, run_id, owner)
            row = conn.execute(
                select(_events)
                .where(
                    _events.c.run_id == run_id,
                    _events.c.type == event_type,
                    _events.c.consumed_by.is_(None),
                )
                .order_by(_events.c.id)
                .limit(1)
            ).first()
            if row is None:
                return None
            conn.execute(
                update(_events).where(_events.c.id == row.id).values(consumed_by=step_record["key"])
            )
            taken = EventRow(**row._mapping)
            record = dict(step_record)
            record["output"] = {
                "type": taken.type,
                "payload": taken.payload,
                "timestamp": taken.created_at,
            }
            self._write_step(conn, record)
        return taken

    # --- time skipping (tests) -----------------------------------------------------------

    def next_timer(self, run_id: str | None = None) -> float | None:
        """The earliest wake-up time of a sleeping or waiting run (optionally one run)."""
        query = select(func.min(_runs.c.wake_at)).where(_runs.c.status.in_(_SUSPENDED))
        if run_id is not None:
            query = query.where(_runs.c.id == run_id)
        with self._tx() as conn:
            return conn.execute(query).scalar()

    def shift_timers(self, seconds: float, run_id: str | None = None) -> int:
        """Bring every pending timer (sleeps, retry delays, wait timeouts) `seconds` closer.

        Returns how many runs were touched.
        """
        runs = update(_runs).where(_runs.c.status.in_(_SUSPENDED), _runs.c.wake_at.is_not(None))
        steps = update(_steps).where(
            _steps.c.status.in_(("sleeping", "waiting", "retrying")), _steps.c.wake_at.is_not(None)
        )
        if run_id is not None:
            runs = runs.where(_runs.c.id == run_id)
            steps = steps.where(_steps.c.run_id == run_id)
        else:
            suspended = select(_runs.c.id).where(_runs.c.status.in_(_SUSPENDED))
            steps = steps.where(_steps.c.run_id.in_(suspended))
        with self._tx() as conn:
            conn.execute(steps.values(wake_at=_steps.c.wake_at - seconds))
            return conn.execute(runs.values(wake_at=_runs.c.wake_at - seconds)).rowcount

    # --- wake-ups across processes (PostgreSQL) ----------------------------------------

    def _signal_due(self, conn: Connection) -> None:
        # Sent at commit; idle workers on other machines wake at once instead of polling.
        if self.is_postgres:
            conn.exec_driver_sql(f"NOTIFY {DUE_CHANNEL}")

    def listen_for_due(
        self, callback: Callable[[], None], stop: threading.Event
    ) -> threading.Thread | None:
        """Call `callback` whenever any process makes a run due (PostgreSQL LISTEN/NOTIFY).

        Returns the listening thread, or None on SQLite (one machine: polling suffices).
        """
        if not self.is_postgres:
            return None
        import psycopg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

        def listen() -> None:
            while not stop.is_set():
                try:
                    with psycopg.connect(dsn, autocommit=True) as conn:
                        conn.execute(f"LISTEN {DUE_CHANNEL}")
                        while not stop.is_set():
                            for _notice in conn.notifies(timeout=0.5, stop_after=1):
                                callback()
                except psycopg.Error:
                    stop.wait(1.0)

        thread = threading.Thread(target=listen, name="agentflow-listen", daemon=True)
        thread.start()
        return thread
