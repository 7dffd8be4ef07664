"""Row-to-model mappers: the public models (`agentflow.models`) of what the store keeps."""

from __future__ import annotations

from agentflow.models import AgentChange, PlanVersion, to_datetime
from agentflow.store.tables import AgentChangeRow, PlanVersionRow


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
