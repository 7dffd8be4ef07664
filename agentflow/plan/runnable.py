"""`RunnablePlan`: a plan's restricted code and what runs it, free of the checker and of pydantic.

`compile_plan` checks and summarises a plan, then builds a `CompiledPlan`, a `RunnablePlan`
with its summary and warnings. A sandbox process runs plans its worker already compiled and
checked: it rewrites and compiles the same source again (code objects do not cross the channel)
with `restricted_plan`, and so never imports the checker, the summary's models or pydantic.
"""

from __future__ import annotations

import ast
import hashlib
import types
from collections.abc import Callable, Mapping
from typing import Any

from agentflow.errors import BudgetSignal, PlanBudgetExceeded
from agentflow.plan.budget import Limits, Meter
from agentflow.plan.namespace import build_namespace
from agentflow.plan.policy import DEFAULT_POLICY, PlanPolicy
from agentflow.plan.rewrite import MeteredPlanTransformer, Violation


class RunnablePlan:
    """A plan's restricted, metered code, ready to run any number of times.

    Attributes:
        source: the plan's source text.
        sha256: hex SHA-256 of `source` (UTF-8).
        limits: the compute budget of each `execute` call.
        policy: what the plan may use, when it compiled and when it runs.
        filename: the name used in tracebacks and diagnostics.
    """

    def __init__(
        self,
        *,
        source: str,
        sha256: str,
        code: types.CodeType,
        limits: Limits,
        filename: str,
        policy: PlanPolicy = DEFAULT_POLICY,
    ) -> None:
        self.source = source
        self.sha256 = sha256
        self.limits = limits
        self.policy = policy
        self.filename = filename
        self._code = code

    def execute(
        self,
        event: Any,
        step: Any,
        tools: Mapping[str, Callable[..., Any]],
        *,
        print_sink: Callable[[str], None] | None = None,
    ) -> Any:
        """Run the plan once: fresh globals and budget, then `run(event, step)`.

        Args:
            event: the run's event, passed to `run`.
            step: the step API object, passed to `run`.
            tools: the callables behind `tools.NAME` inside the plan.
            print_sink: receives each line the plan prints (bounded); None drops them.

        Returns:
            Whatever `run` returns.

        Raises:
            PlanBudgetExceeded: the plan used more compute than `limits` allow.
            Exception: whatever the plan or its steps raise; BaseException-derived signals
                raised by `step` (the runtime's suspension) propagate unchanged.
        """
        meter = Meter(self.limits, self.filename)
        namespace = build_namespace(meter, step, tools, print_sink, self.policy)
        try:
            exec(self._code, namespace)
            return namespace["run"](event, step)
        except BudgetSignal as signal:
            raise PlanBudgetExceeded(signal.message, line=signal.line) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.filename} sha256={self.sha256[:12]}>"


def source_sha256(source: str) -> str:
    """The hex SHA-256 that names a plan's source."""
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()


def restrict(tree: ast.Module) -> list[Violation]:
    """Rewrite a parsed plan in place (RestrictedPython's guards and the meter's calls).

    Returns the RestrictedPython rules it breaks; code compiled from a tree with any must not run.
    """
    transformer = MeteredPlanTransformer()
    transformer.visit(tree)
    return transformer.diagnostics


def compile_tree(tree: ast.Module, filename: str) -> types.CodeType:
    """The code object of a restricted tree."""
    return compile(tree, filename, "exec", dont_inherit=True)


def restricted_plan(source: str, limits: Limits, filename: str = "<plan>") -> RunnablePlan:
    """Rewrite and compile a plan its worker already checked, as a sandbox does.

    Raises:
        ValueError: the source breaks a RestrictedPython rule (a checked plan never does).
        SyntaxError: the source does not parse (a checked plan always does).
    """
    tree = ast.parse(source, filename, "exec")
    violations = restrict(tree)
    if violations:
        first = violations[0]
        raise ValueError(f"line {first.line}, col {first.col}: {first.message}")
    return RunnablePlan(
        source=source,
        sha256=source_sha256(source),
        code=compile_tree(tree, filename),
        limits=limits,
        filename=filename,
    )
