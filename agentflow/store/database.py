"""`Database`: the connection pool, dialect and transactions every part of the store shares."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Column, Connection
from sqlalchemy.sql import ClauseElement

from agentflow.store.dialect import READ_ONLY, OwnerSession, dialect_for
from agentflow.store.migrations import migrate
from agentflow.store.prepared import Prepared

DEFAULT_DATABASE_URL = "sqlite:///agentflow.db"


class Database:
    """An open, migrated agentflow database; the base of each of the store's subjects.

    Args:
        url: a SQLAlchemy URL, `sqlite:///agentflow.db` or `postgresql+psycopg://...`.
        durability: "normal" or "full" (see `DURABILITY_MODES`).
    """

    def __init__(self, url: str = DEFAULT_DATABASE_URL, durability: str = "normal") -> None:
        self.url = url
        self.durability = durability
        self.dialect = dialect_for(url)
        self.engine = self.dialect.make_engine(url, durability)
        # Lease owner -> the connection holding its session lock (PostgreSQL; see `leases`).
        self._sessions: dict[str, OwnerSession] = {}
        self._sessions_lock = threading.Lock()
        # Claim statements built once per shape and run with the time bound as `now`.
        self._claim_queries: dict[tuple[int, bool], Any] = {}
        # Hot-path statements compiled for this database's driver, by the statement's id.
        self._prepared: dict[int, tuple[ClauseElement, Prepared]] = {}
        self._reader = self.engine.execution_options(**{READ_ONLY: True})
        dbapi = self.engine.dialect.dbapi
        assert dbapi is not None  # a URL with a driver, which make_engine requires
        self.integrity_error: type[Exception] = dbapi.IntegrityError
        try:
            with self._tx() as conn:
                migrate(conn, self.dialect, url)
        except BaseException:
            self.engine.dispose()
            raise

    def close(self) -> None:
        """Release every pooled connection, and end the sessions that hold owners' locks."""
        with self._sessions_lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.close()
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction (on SQLite it takes the write lock at BEGIN)."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read-only transaction: on SQLite it begins DEFERRED and never takes the write lock."""
        with self._reader.begin() as conn:
            yield conn

    def _prepare(self, statement: ClauseElement, columns: Sequence[Column[Any]] = ()) -> Prepared:
        """`statement` compiled for this database's driver, once (see `Prepared`).

        Keyed by the statement object: pass statements built once (module constants, or
        cached by their shape), not new ones per call.
        """
        held = self._prepared.get(id(statement))
        if held is None:
            held = self._prepared[id(statement)] = (
                statement,
                Prepared(statement, self.engine.dialect, columns),
            )
        return held[1]

    def _fetch(
        self,
        statement: ClauseElement,
        values: dict[str, Any] | None = None,
        columns: Sequence[Column[Any]] = (),
    ) -> list[dict[str, Any]]:
        """The rows of a one-statement read, run prepared (`_prepare`) on a DBAPI cursor.

        `columns` decode the values (default: the statement's selected table columns).
        """
        prepared = self._prepare(statement, columns or _selected(statement))
        with self._raw_read() as cursor:
            return prepared.rows(cursor, values)

    @contextmanager
    def _raw_read(self) -> Iterator[Any]:
        """A DBAPI cursor for reads of one statement each (no write lock; nothing kept open)."""
        conn = self.engine.raw_connection()
        try:
            yield conn.cursor()
        finally:
            try:
                conn.rollback()  # PostgreSQL opened a transaction at the first statement
            finally:
                conn.close()

    @contextmanager
    def _hot(self) -> Iterator[Any]:
        """A write transaction on a pooled DBAPI cursor: the hot path's, without SQLAlchemy.

        Its statements are prepared (`_prepare`); it commits at the end, or rolls back
        when the block raises. The DBAPI's own errors reach the caller (`integrity_error`).
        """
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                self.dialect.begin_write(cursor)
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        finally:
            conn.close()


def _selected(statement: Any) -> list[Column[Any]]:
    """The table columns a SELECT reads, in order."""
    return list(statement.selected_columns)
