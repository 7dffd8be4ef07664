"""agentflow's tables live on their own `MetaData`, apart from a host application's tables."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlmodel import Field, SQLModel

from agentflow import Engine
from agentflow.store.tables import metadata


class HostInvoice(SQLModel, table=True):
    """A table of the host application, declared on SQLModel's shared metadata."""

    __tablename__ = "host_invoices"

    id: int | None = Field(default=None, primary_key=True)
    amount: int


def test_opening_a_store_creates_only_agentflows_tables(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    Engine(url, isolation="inline").close()
    tables = set(inspect(create_engine(url)).get_table_names())
    assert "host_invoices" not in tables
    assert tables == set(metadata.tables)
    assert "host_invoices" in SQLModel.metadata.tables
    assert not set(metadata.tables) & set(SQLModel.metadata.tables)
