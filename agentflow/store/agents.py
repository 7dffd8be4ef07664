"""Agents, the record of changes to them, and where the tools they use can be imported from."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from agentflow.errors import NotFound
from agentflow.store.database import Database
from agentflow.store.plans import refresh_pending_approvals
from agentflow.store.tables import AGENT_CHANGES, AGENTS, TOOLS, AgentChangeRow, AgentRow, ToolRow

_AGENT_BY_ID = select(AGENTS).where(AGENTS.c.id == bindparam("agent_id"))
AGENT_TOOLS = select(AGENTS.c.tools).where(AGENTS.c.id == bindparam("agent_id"))


class AgentStore(Database):
    """The store's agents and tools."""

    def create_agent(
        self,
        agent_id: str,
        tools: list[str],
        review_policy: str,
        model: str | None,
        *,
        approvals: dict[str, int] | None = None,
        max_concurrent_runs: int | None = None,
    ) -> tuple[AgentRow, bool]:
        """Insert the agent unless it exists; returns (stored row, created). Never updates."""
        now = time.time()
        with self._tx() as conn:
            try:
                with conn.begin_nested():
                    conn.execute(
                        insert(AGENTS).values(
                            id=agent_id,
                            tools=tools,
                            review_policy=review_policy,
                            approvals=approvals or {},
                            model=model,
                            max_concurrent_runs=max_concurrent_runs,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                created = True
            except IntegrityError:
                created = False
            row = conn.execute(select(AGENTS).where(AGENTS.c.id == agent_id)).first()
        assert row is not None
        return AgentRow(**row._mapping), created

    def update_agent(self, agent_id: str, changed_by: str, **fields: Any) -> AgentChangeRow | None:
        """Change an agent's tools, review policy, approvals, model or max_concurrent_runs.

        Who changed it and when is recorded.

        Only the fields whose value differs from the stored one are written; the change is
        appended to `agent_changes` in the same transaction, with the values before and after.
        A change of `approvals` also sets how many approvals each of the agent's pending plan
        versions needs, in that transaction.

        Returns:
            The recorded change, or None when every given value was already stored.

        Raises:
            NotFound: there is no such agent.
        """
        assert set(fields) <= {
            "tools",
            "review_policy",
            "approvals",
            "model",
            "max_concurrent_runs",
        }
        now = time.time()
        query = select(AGENTS).where(AGENTS.c.id == agent_id)
        query = self.dialect.lock_rows(query)
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
                update(AGENTS)
                .where(AGENTS.c.id == agent_id)
                .values(**after, updated_at=now, updated_by=changed_by)
            )
            if "approvals" in after:
                refresh_pending_approvals(conn, agent_id, after["approvals"])
            result = conn.execute(
                insert(AGENT_CHANGES).values(
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
            select(AGENT_CHANGES)
            .where(AGENT_CHANGES.c.agent_id == agent_id)
            .order_by(AGENT_CHANGES.c.id)
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
        rows = self._fetch(_AGENT_BY_ID, {"agent_id": agent_id})
        return AgentRow.model_construct(**rows[0]) if rows else None

    def agent_tools(self, agent_id: str) -> list[str]:
        """The names of the tools the agent may use (none for an agent with no row)."""
        rows = self._fetch(AGENT_TOOLS, {"agent_id": agent_id})
        return list(rows[0]["tools"]) if rows else []

    def record_tool(self, name: str, import_path: str | None, side_effects: bool) -> None:
        """Remember where a tool can be imported from, for workers that lack it."""
        values = {
            "import_path": import_path,
            "side_effects": side_effects,
            "updated_at": time.time(),
        }
        self._upsert(TOOLS, TOOLS.c.name, name, values, {})

    def get_tool(self, name: str) -> ToolRow | None:
        """What the store knows of a tool, or None."""
        with self._tx() as conn:
            row = conn.execute(select(TOOLS).where(TOOLS.c.name == name)).first()
        return ToolRow(**row._mapping) if row else None
