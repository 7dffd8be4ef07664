"""The HTTP status each error is answered with, in one table.

The review app's pages and its `/api`, and `agentflow serve`'s `/api/v1` problem details all
read it.

Looked up along the error's class hierarchy, most specific class first (as Starlette finds an
exception handler), so a new error class gets its family's status until it is listed here.
Bad input is never a 5xx: a `UsageError` is a 4xx (and the HTTP API answers a `ValueError`
raised while checking a request with 422).
"""

from __future__ import annotations

from agentflow.errors import (
    AgentflowError,
    AmbiguousRunId,
    ConfigurationError,
    DuplicateApproval,
    InvalidRunId,
    LimitExceeded,
    ModelUnavailable,
    NotFound,
    PlanningFailed,
    PlanNotApproved,
    PlanValidationError,
    RunStateError,
    ToolNotAllowed,
    UsageError,
)

HTTP_STATUSES: dict[type[BaseException], int] = {
    NotFound: 404,
    RunStateError: 409,  # and PlanAlreadyDecided: the state changed, nothing was done
    PlanNotApproved: 409,
    DuplicateApproval: 409,  # the same reviewer twice: the version still needs another reviewer
    PlanValidationError: 422,
    PlanningFailed: 422,
    ToolNotAllowed: 422,
    ConfigurationError: 422,
    InvalidRunId: 400,
    AmbiguousRunId: 400,
    LimitExceeded: 413,
    UsageError: 400,
    # No model is configured for the goal, or none can be reached: the request cannot be planned
    # as it stands (a goal with a recorded plan, or a configured model, can be); not a 5xx.
    ModelUnavailable: 422,
    AgentflowError: 500,
}


def http_status(error: BaseException) -> int:
    """The HTTP status for `error`: that of the nearest class in `HTTP_STATUSES`, else 500."""
    return known_status(error) or 500


def known_status(error: BaseException) -> int | None:
    """The status of the nearest class of `error` in `HTTP_STATUSES`; None if none is listed."""
    for cls in type(error).__mro__:
        status = HTTP_STATUSES.get(cls)
        if status is not None:
            return status
    return None
