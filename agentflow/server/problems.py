"""Errors as problem details (RFC 9457): one table from error class to HTTP status.

Every error the API answers is `application/problem+json` with `type`, `title`, `status` and
`detail`, plus `diagnostics` for a plan that does not compile and `errors` for a request that
does not validate. The table is looked up along the error's MRO, so a subclass answers like its
nearest listed base.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from agentflow.diagnostics import Diagnostic
from agentflow.errors import (
    AgentflowError,
)
from agentflow.review.statuses import known_status

log = logging.getLogger("agentflow.server")
PROBLEM_JSON = "application/problem+json"


class ValidationProblem(BaseModel):
    """One field of a request that did not validate."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    diagnostics: list[Diagnostic] | None = Field(
        default=None, description="Every problem found in a plan's source."
    )
    errors: list[ValidationProblem] | None = Field(
        default=None, description="Every field of the request that did not validate."
    )


def status_of(exc: BaseException) -> int | None:
    """The HTTP status of an error from the one table (`agentflow.review.statuses`).

    A `ValueError` none of its classes lists is a request that did not check out: 422.
    """
    status = known_status(exc)
    if status is None and isinstance(exc, ValueError):
        return 422
    return status


def problem(
    request: Request,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem-details response."""
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        **extra,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "request"


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        ValidationProblem(loc=list(e.get("loc", ())), msg=str(e.get("msg", "")), type=e["type"])
        for e in exc.errors()
    ]
    detail = "; ".join(f"{_where(tuple(e.loc))}: {e.msg}" for e in errors) or "invalid request"
    return problem(request, 422, detail, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(request, exc.status_code, str(exc.detail), headers=exc.headers)


async def _known_error(request: Request, exc: Exception) -> JSONResponse:
    status = status_of(exc)
    if status is None:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(request, 500, "internal error: the server's log has the details")
    diagnostics = getattr(exc, "diagnostics", None)
    return problem(request, status, str(exc), diagnostics=diagnostics or None)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as problem details."""
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(AgentflowError, _known_error)
    app.add_exception_handler(ValueError, _known_error)
    app.add_exception_handler(Exception, _known_error)
