"""Row-to-model mappers: the public models (`agentflow.models`) of what the store keeps."""

from __future__ import annotations

from datetime import UTC, datetime

from agentflow.models import AgentChange, HistoryEntry, PlanVersion, to_datetime
from agentflow.store.tables import AgentChangeRow, HistoryRow, PlanVersionRow


def plan_version_of(row: PlanVersionRow, *, reused: bool = False) -> PlanVersion:
    """The public model of a stored plan version."""
    data = row.model_dump()
    data["created_at"] = to_datetime(row.created_at)
    data["decided_at"] = to_datetime(row.decided_at)
    data["reused"] = reused
    return PlanVersion.model_validate(data)


def agent_change_of(row: AgentChangeRow) -> AgentChange:
    """The public model of a recorded change to an agent."""
    return AgentChange.model_validate(
        {**row.model_dump(), "created_at": to_datetime(row.created_at)}
    )


def history_entry_of(row: HistoryRow) -> HistoryEntry:
    """The public model of one entry of a run's history."""
    return HistoryEntry(
        seq=row.seq,
        at=datetime.fromtimestamp(row.at, tz=UTC),
        kind=row.kind,
        actor=row.actor,
        reason=row.reason,
        detail=row.detail,
    )
