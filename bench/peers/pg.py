"""A throw-away PostgreSQL database per measurement, on the server BENCH_POSTGRES names.

psycopg is imported on first use: the SQLite measures' processes (a recovering process's
start-up is timed) never pay for it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

DEFAULT = "postgresql+psycopg://agentflow:agentflow@127.0.0.1:54329/agentflow"


def connect(url: str) -> psycopg.Connection:  # type: ignore[type-arg]
    import psycopg

    return psycopg.connect(url, autocommit=True)


@contextmanager
def database() -> Iterator[str]:
    """Create `bench_<random>`, yield its SQLAlchemy URL, drop it (even if connections remain)."""
    import psycopg

    url = os.environ.get("BENCH_POSTGRES", DEFAULT)
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
