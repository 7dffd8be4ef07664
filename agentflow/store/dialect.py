"""Every difference between SQLite and PostgreSQL the store knows of, and nowhere else.

The rest of the store writes one SQLAlchemy statement for both databases and asks its `Dialect`
for what cannot be the same: how to connect, whose clock leases follow, how to lock rows, and
how to tell other processes that a run became due.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    Connection,
    Float,
    Select,
    cast,
    create_engine,
    event,
    extract,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine as SAEngine

from agentflow.errors import ConfigurationError
from agentflow.states import RunState

DUE_CHANNEL = "agentflow_due"
WATCH_SECONDS = 0.005
"""How often a SQLite worker looks at the file's data version for other processes' commits."""
_WAITING_STATES = (RunState.QUEUED, RunState.SLEEPING, RunState.WAITING)
# When the next run falls due: an unleased one's wake-up, or the end of a lease (a lapsed
# lease makes its run claimable again; live workers keep pushing theirs forward).
_NEXT_DUE = (
    "SELECT min(t) FROM ("
    "SELECT min(wake_at) AS t FROM runs WHERE status IN (?, ?, ?) AND lease_owner IS NULL "
    "UNION ALL SELECT min(lease_expires_at) FROM runs WHERE lease_owner IS NOT NULL)"
)
_MIGRATION_LOCK_KEY = 0x61676E74666C6F77  # "agntflow": the advisory lock held while migrating

SESSION_MARK = "s-"
"""Starts the tag of a lease owner id (`host:pid:s-TAG`) whose worker holds its session lock.

Only such owners' leases are ended when their lock is free: a worker of an older version,
which holds no lock, keeps its leases until they lapse."""
# An owner's lock key in SQL: the first 64 bits of the md5 of its id, as `owner_lock_key`.
_OWNER_KEY_SQL = "('x' || substr(md5({owner}), 1, 16))::bit(64)::bigint"
_SESSIONS_ENDED = text(
    "SELECT o FROM unnest(CAST(:owners AS text[])) AS o "
    "WHERE o LIKE :marked AND pg_try_advisory_xact_lock(" + _OWNER_KEY_SQL.format(owner="o") + ")"
)

_Query = TypeVar("_Query", bound=Select[Any])
READ_ONLY = "agentflow_read_only"
"""The execution option of the store's read transactions: on SQLite they begin DEFERRED."""

DURABILITY_MODES = ("normal", "full")
"""`normal`: a commit survives a crash of the process (SQLite `synchronous=NORMAL` in WAL mode,
PostgreSQL `synchronous_commit=off`); `full`: it survives a power loss too (fsync at every
commit: SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit=on`)."""


def check_durability(durability: str) -> None:
    """Raise ConfigurationError unless `durability` is one of `DURABILITY_MODES`."""
    if durability not in DURABILITY_MODES:
        raise ConfigurationError(
            f"durability {durability!r} is not one of {', '.join(DURABILITY_MODES)}"
        )


def owner_lock_key(owner: str) -> int:
    """The advisory lock key of a lease owner: the first 64 bits of its id's md5, signed."""
    return int.from_bytes(hashlib.md5(owner.encode()).digest()[:8], "big", signed=True)


class OwnerSession:
    """A connection of its own on which a worker holds its owner's session-level lock.

    PostgreSQL releases the lock the moment this connection ends, however its process died:
    another worker that can take the lock knows the owner is gone.

    Raises:
        ConfigurationError: another session already holds this owner's lock.
    """

    def __init__(self, engine: SAEngine, owner: str) -> None:
        import psycopg

        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.owner = owner
        self._conn = psycopg.connect(dsn, autocommit=True)
        row = self._conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (owner_lock_key(owner),)
        ).fetchone()
        if row is None or not row[0]:
            self._conn.close()
            raise ConfigurationError(f"the session lock of lease owner {owner!r} is held already")

    @property
    def alive(self) -> bool:
        """Whether the connection, and so the lock, is still held (as far as the client knows)."""
        return not self._conn.closed and not self._conn.broken

    def close(self) -> None:
        """End the session: the server releases the lock."""
        self._conn.close()


class Dialect:
    """What the store asks of its database.

    These answers are SQLite's: one file on one machine, whose transactions take the write lock
    at BEGIN.
    """

    owner_sessions: ClassVar[bool] = False
    """Whether a worker's death shows in the database (PostgreSQL: its session lock is free)."""
    lateral_joins = False
    """Whether a subquery may read the columns of a table before it (`JOIN LATERAL`)."""
    writes_hold_database: ClassVar[bool] = True
    """Whether a write transaction keeps every other writer out (SQLite's file lock): then a
    claim looks for a due run with a read first, and takes the lock only if it finds one."""

    def make_engine(self, url: str, durability: str = "normal") -> SAEngine:
        """A connection pool for `url`, set up for agentflow's transactions."""
        check_durability(durability)
        synchronous = "FULL" if durability == "full" else "NORMAL"
        # Every transaction ends in a commit or a rollback, so returning a connection to the
        # pool needs no reset of its own (a rollback per checkout, on the hot path).
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_reset_on_return=None,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Take the write lock at BEGIN so that read-then-write transactions never deadlock.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A read begins DEFERRED: in WAL mode it neither waits for nor blocks a writer.
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine

    def begin_write(self, cursor: Any) -> None:
        """Open a write transaction on a DBAPI cursor of the pool's (the hot path's own)."""
        cursor.execute("BEGIN IMMEDIATE")

    def lock_for_migration(self, conn: Connection) -> None:
        """Keep other processes from migrating the same database at once.

        BEGIN IMMEDIATE already does on SQLite.
        """

    def lock_rows(self, query: _Query, *, skip_locked: bool = False) -> _Query:
        """`query`, reading rows the transaction will write.

        Every transaction holds the whole file on SQLite, so there is nothing to add.
        """
        return query

    def lease_clock(self) -> Any:
        """The clock leases are measured by: this machine's, the only one a SQLite file has."""
        return time.time()

    def bool_literal(self, value: bool) -> str:
        """A boolean as a DDL default."""
        return str(int(value))

    def signal_due(self, conn: Connection) -> None:
        """Tell other processes a run became due (on one machine, polling suffices)."""

    def signal_due_on(self, cursor: Any) -> None:
        """`signal_due` on a DBAPI cursor of `Database._hot`."""

    def hold_session(self, engine: SAEngine, owner: str) -> OwnerSession | None:
        """Hold `owner`'s session lock for as long as the worker lives; None where none exists.

        A SQLite file has no sessions: its workers' deaths are found by pid (same host).
        """
        return None

    def sessions_ended(self, conn: Connection, owners: list[str]) -> list[str]:
        """Those of `owners` whose session lock is free: their workers are gone."""
        return []

    def listen_for_due(
        self, engine: SAEngine, callback: Callable[[], None], stop: threading.Event
    ) -> threading.Thread | None:
        """Call `callback` soon after another process makes a run due, or when it falls due.

        A thread of its own reads the file's `PRAGMA data_version` every few milliseconds on a
        connection of its own: a cheap read that changes when another connection commits.
        After a change it reads when the next unleased run is due (a read, which in WAL mode
        never waits for a writer), and calls `callback` when that time comes: at once for a
        run due now, at its deadline for a run another process put to sleep.
        """
        path = engine.url.database
        if not path or path == ":memory:":
            return None

        def next_due(conn: sqlite3.Connection) -> float | None:
            due: float | None = conn.execute(_NEXT_DUE, _WAITING_STATES).fetchone()[0]
            return due

        def watch() -> None:
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                last = conn.execute("PRAGMA data_version").fetchone()[0]
                due = next_due(conn)
                while not stop.wait(WATCH_SECONDS):
                    current = conn.execute("PRAGMA data_version").fetchone()[0]
                    if current != last:
                        last = current
                        due = next_due(conn)
                    if due is not None and due <= time.time():
                        due = None  # told once; the worker's own claim takes it from here
                        callback()

        thread = threading.Thread(target=watch, name="agentflow-watch", daemon=True)
        thread.start()
        return thread


class PostgresDialect(Dialect):
    """PostgreSQL: many workers on many machines, whose clocks may disagree."""

    owner_sessions: ClassVar[bool] = True
    lateral_joins = True
    writes_hold_database: ClassVar[bool] = False

    def make_engine(self, url: str, durability: str = "normal") -> SAEngine:
        """A connection pool for `url` that checks its connections before use."""
        check_durability(durability)
        commit = "on" if durability == "full" else "off"
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=5,
            pool_reset_on_return=None,
            # The JIT compiler costs a claim ~100 ms whenever the planner overestimates it.
            connect_args={"options": f"-c synchronous_commit={commit} -c jit=off"},
        )

    def begin_write(self, cursor: Any) -> None:
        """Nothing to send: psycopg opens the transaction at the first statement."""

    def lock_for_migration(self, conn: Connection) -> None:
        """Two processes starting on a fresh or old database must not both migrate."""
        conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))

    def lock_rows(self, query: _Query, *, skip_locked: bool = False) -> _Query:
        """`query ... FOR UPDATE`, optionally skipping rows another transaction holds."""
        return query.with_for_update(skip_locked=skip_locked)

    def lease_clock(self) -> Any:
        """The database server's clock.

        Workers on machines whose clocks disagree never see a live lease as expired.
        """
        return cast(extract("epoch", func.clock_timestamp()), Float)

    def bool_literal(self, value: bool) -> str:
        """A boolean as a DDL default."""
        return "true" if value else "false"

    def signal_due(self, conn: Connection) -> None:
        """NOTIFY at commit: idle workers on other machines wake at once instead of polling."""
        conn.exec_driver_sql(f"NOTIFY {DUE_CHANNEL}")

    def signal_due_on(self, cursor: Any) -> None:
        """`signal_due` on a DBAPI cursor of `Database._hot`."""
        cursor.execute(f"NOTIFY {DUE_CHANNEL}")

    def hold_session(self, engine: SAEngine, owner: str) -> OwnerSession | None:
        """Take `owner`'s session-level advisory lock on a connection kept open for it."""
        return OwnerSession(engine, owner)

    def sessions_ended(self, conn: Connection, owners: list[str]) -> list[str]:
        """Those of `owners` (marked as lock holders) whose advisory lock this session can take.

        The server releases a session lock when its connection ends, so a free lock means the
        owner's worker is gone. The lock taken to find out is a transaction lock, released at
        this transaction's commit.
        """
        if not owners:
            return []
        found = conn.execute(_SESSIONS_ENDED, {"owners": owners, "marked": f"%:%:{SESSION_MARK}%"})
        return [r[0] for r in found]

    def listen_for_due(
        self, engine: SAEngine, callback: Callable[[], None], stop: threading.Event
    ) -> threading.Thread | None:
        """LISTEN on a connection of its own, in a daemon thread; reconnects after errors."""
        import psycopg

        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

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


def dialect_for(url: str) -> Dialect:
    """The dialect of a database URL.

    Raises:
        ConfigurationError: the URL names neither SQLite nor PostgreSQL.
    """
    if url.startswith("sqlite"):
        return Dialect()
    if url.startswith("postgresql"):
        return PostgresDialect()
    raise ConfigurationError(
        f"unsupported database URL {url!r}: use sqlite:///FILE or postgresql+psycopg://..."
    )
