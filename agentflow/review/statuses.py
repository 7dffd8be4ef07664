"""The HTTP status the review app answers each agentflow error with, in one table.

Looked up along the error's class hierarchy, most specific class first (as Starlette finds an
exception handler), so a new error class gets its family's status until it is listed here.
"""

from __future__ import annotations

from agentflow.errors import (
    AgentflowError,
    ModelUnavailable,
    NotFound,
    PlanNotApproved,
    RunStateError,
    UsageError,
)

HTTP_STATUSES: dict[type[BaseException], int] = {
    NotFound: 404,
    RunStateError: 409,  # and PlanAlreadyDecided: the state changed, nothing was done
    PlanNotApproved: 409,
    UsageError: 400,
    ModelUnavailable: 503,
    AgentflowError: 500,
}


def http_status(error: BaseException) -> int:
    """The HTTP status for `error`: that of the nearest class in `HTTP_STATUSES`, else 500."""
    for cls in type(error).__mro__:
        status = HTTP_STATUSES.get(cls)
        if status is not None:
            return status
    return 500
