"""Shared helpers for the plan compiler tests: a fake `step`, tools, and shortcuts."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from agentflow.errors import Diagnostic, PlanValidationError
from agentflow.plan import CompiledPlan, compile_plan


class Suspend(BaseException):
    """Stands in for the runtime's suspension signal."""


class FakeStep:
    """A minimal step API: `do` calls its function, `sleep` can suspend."""

    def __init__(self, suspend_on_sleep: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.suspend_on_sleep = suspend_on_sleep

    def do(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        retries: Any = None,
        timeout: Any = None,
        **kwargs: Any,
    ) -> Any:
        self.calls.append(("do", name))
        return fn(*args, **kwargs)

    def sleep(self, name: str, duration: Any) -> None:
        self.calls.append(("sleep", name))
        if self.suspend_on_sleep:
            raise Suspend(name)

    def sleep_until(self, name: str, when: Any) -> None:
        self.calls.append(("sleep_until", name))

    def wait_for_event(self, name: str, type: str, timeout: Any = "24 hours") -> Any:
        self.calls.append(("wait_for_event", name))
        return {"type": type, "payload": {"approved": True}}

    def map(self, name: str, fn: Callable[..., Any], items: Any) -> list[Any]:
        return [fn(item) for item in items]

    def parallel(self, name: str, fns: dict[str, Callable[[], Any]]) -> dict[str, Any]:
        return {key: fn() for key, fn in fns.items()}

    def now(self) -> str:
        return "2030-01-01T00:00:00+00:00"

    secret = "the runtime's internals"


def send_email(to: str, subject: str, body: str = "") -> dict[str, Any]:
    """Send an email."""
    return {"sent": to}


def list_orders(status: str = "open") -> list[dict[str, Any]]:
    """List orders."""
    return [{"id": 1, "email": "a@example.com"}, {"id": 2, "email": "b@example.com"}]


list_orders.__agentflow_side_effects__ = False  # type: ignore[attr-defined]


def refund(order_id: int) -> dict[str, Any]:
    """Refund an order."""
    return {"refunded": order_id}


TOOLS: dict[str, Callable[..., Any]] = {
    "send_email": send_email,
    "list_orders": list_orders,
    "refund": refund,
}


def plan_source(body: str) -> str:
    """Dedent a plan written inline in a test."""
    return textwrap.dedent(body).strip("\n") + "\n"


def diagnostics_of(source: str, tools: Any = TOOLS) -> list[Diagnostic]:
    """The diagnostics compile_plan reports (fails the test if it compiles)."""
    with pytest.raises(PlanValidationError) as info:
        compile_plan(plan_source(source), tools)
    return info.value.diagnostics


def compiled(source: str, tools: Any = TOOLS, **kwargs: Any) -> CompiledPlan:
    """Compile a plan written inline in a test."""
    return compile_plan(plan_source(source), tools, **kwargs)


def run_plan(source: str, event: Any = None, **kwargs: Any) -> Any:
    """Compile and execute with the fake step and the test tools."""
    return compiled(source, **kwargs).execute(event, FakeStep(), TOOLS)
