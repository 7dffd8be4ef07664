"""Storage: SQLModel tables and the `Store` repository (SQLite by default, or PostgreSQL)."""

from agentflow.errors import LeaseLost
from agentflow.store.repository import CLAIMABLE, DEFAULT_DATABASE_URL, TERMINAL, Store
from agentflow.store.tables import (
    SCHEMA_VERSION,
    AgentChangeRow,
    AgentRow,
    EventRow,
    PlanVersionRow,
    ReviewDecisionRow,
    RunRow,
    StepRecord,
    StepRow,
)

__all__ = [
    "CLAIMABLE",
    "DEFAULT_DATABASE_URL",
    "SCHEMA_VERSION",
    "TERMINAL",
    "AgentChangeRow",
    "AgentRow",
    "EventRow",
    "LeaseLost",
    "PlanVersionRow",
    "ReviewDecisionRow",
    "RunRow",
    "StepRecord",
    "StepRow",
    "Store",
]
