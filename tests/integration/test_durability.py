"""`Engine(durability=...)`: what a committed checkpoint survives, set on every connection."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from agentflow import ConfigurationError, Engine

# SQLite's `PRAGMA synchronous` answers 1 for NORMAL and 2 for FULL.
EXPECTED = {
    ("sqlite", "normal"): 1,
    ("sqlite", "full"): 2,
    ("postgresql", "normal"): "off",
    ("postgresql", "full"): "on",
}


@pytest.mark.parametrize("durability", ["normal", "full"])
def test_each_connection_commits_as_durably_as_asked(db_url, durability):
    engine = Engine(db_url, durability=durability, isolation="inline")
    dialect = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    query = "SHOW synchronous_commit" if dialect == "postgresql" else "PRAGMA synchronous"
    with engine.store.engine.connect() as conn:
        assert conn.execute(text(query)).scalar() == EXPECTED[(dialect, durability)]
    engine.close()


def test_an_unknown_durability_is_refused(tmp_path):
    with pytest.raises(
        ConfigurationError, match="durability 'paranoid' is not one of normal, full"
    ):
        Engine(f"sqlite:///{tmp_path / 'x.db'}", durability="paranoid")
