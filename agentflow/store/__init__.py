"""Storage: SQLModel tables and the `Store` repository (SQLite by default, or PostgreSQL)."""

from agentflow.errors import LeaseLost
from agentflow.states import CLAIMABLE, TERMINAL
from agentflow.store.database import DEFAULT_DATABASE_URL
from agentflow.store.repository import Store
from agentflow.store.tables import (
    SCHEMA_VERSION,
    AgentChangeRow,
    AgentRow,
    EventRow,
    HistoryRow,
    PlanVersionRow,
    ReviewDecisionRow,
    RunRow,
    StepRecord,
    StepRow,
    StepWrite,
)
from agentflow.store.transitions import NewPlanVersion, Settlement, StartOnApproval, Transition

__all__ = [
    "CLAIMABLE",
    "DEFAULT_DATABASE_URL",
    "SCHEMA_VERSION",
    "TERMINAL",
    "AgentChangeRow",
    "AgentRow",
    "EventRow",
    "HistoryRow",
    "LeaseLost",
    "NewPlanVersion",
    "PlanVersionRow",
    "ReviewDecisionRow",
    "RunRow",
    "Settlement",
    "StartOnApproval",
    "StepRecord",
    "StepRow",
    "StepWrite",
    "Store",
    "Transition",
]
