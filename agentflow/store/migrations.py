"""Bringing a live database to this agentflow's schema, in place."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import JSON, Connection, insert, inspect, literal, or_, select, update

from agentflow.errors import SchemaVersionError
from agentflow.states import PlanState
from agentflow.store.dialect import Dialect
from agentflow.store.tables import (
    HISTORY,
    META,
    PLANS,
    RUNS,
    SCHEMA_VERSION,
    metadata,
    partial_indexes_for,
)


# (version, step): data changes a database older than `version` needs once its columns exist.
def _public_run_ids(conn: Connection) -> None:
    # Before version 3 a run's id was its key, unique in the whole store.
    conn.execute(
        update(RUNS)
        .where(or_(RUNS.c.run_id.is_(None), RUNS.c.run_id == ""))
        .values(run_id=RUNS.c.id)
    )


def _history_of_existing_runs(conn: Connection) -> None:
    # Runs made before version 6 have no history: each gets its `created` entry, from its row.
    has_history = select(HISTORY.c.id).where(HISTORY.c.run_key == RUNS.c.id).exists()
    conn.execute(
        insert(HISTORY).from_select(
            ["run_key", "seq", "at", "kind", "detail"],
            select(
                RUNS.c.id,
                literal(1),
                RUNS.c.created_at,
                literal("created"),
                literal({"backfilled": True}, JSON),
            ).where(~has_history),
        )
    )


def _approval_counts(conn: Connection) -> None:
    # Before version 7 every plan version needed one approval: a version a reviewer approved
    # has its one, any other none. Only plan_versions is touched, so a store at 5 or 6 alike.
    conn.execute(update(PLANS).values(approvals_required=1, approvals_given=0))
    conn.execute(
        update(PLANS)
        .where(PLANS.c.status == PlanState.APPROVED, PLANS.c.decided_by.is_not(None))
        .values(approvals_given=1)
    )


def _drop_steps_seq_index(conn: Connection) -> None:
    # Until version 8 steps had a second index on (run_id, seq), written at every checkpoint.
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_steps_run_seq")


_DATA_MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (3, _public_run_ids),
    (6, _history_of_existing_runs),
    (7, _approval_counts),
    (8, _drop_steps_seq_index),
]


def migrate(conn: Connection, dialect: Dialect, url: str) -> None:
    """Bring the database to this agentflow's schema, inside the caller's transaction.

    Missing tables are created; missing columns are added to existing tables (with their
    declared default, or a zero value for a NOT NULL column without one), by comparing the
    declared tables to the live database; then the data steps for every version between the
    stored one and `SCHEMA_VERSION` run, and finally the missing indexes are built.

    Raises:
        SchemaVersionError: the database was made by a newer agentflow.
    """
    dialect.lock_for_migration(conn)
    found = _stored_schema_version(conn)
    if found is not None and found > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"database {url} has schema version {found}, newer than this "
            f"agentflow's {SCHEMA_VERSION}: upgrade agentflow to use it"
        )
    partial_indexes_for(conn.dialect.name)
    metadata.create_all(conn)
    _add_missing_columns(conn, dialect)
    if found is None:
        conn.execute(insert(META).values(key="schema_version", value=str(SCHEMA_VERSION)))
    elif found < SCHEMA_VERSION:
        for version, step in _DATA_MIGRATIONS:
            if found < version:
                step(conn)
        conn.execute(
            update(META).where(META.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
        )
    # After the data steps: a unique index may need the values they fill in.
    _add_missing_indexes(conn)


def _stored_schema_version(conn: Connection) -> int | None:
    if not inspect(conn).has_table(META.name):
        return None
    value = conn.execute(select(META.c.value).where(META.c.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def _sql_literal(dialect: Dialect, value: Any) -> str:
    if isinstance(value, bool):
        return dialect.bool_literal(value)
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


def _add_missing_columns(conn: Connection, dialect: Dialect) -> None:
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
                ddl += f" DEFAULT {_sql_literal(dialect, value)}"
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
