"""`compile_plan`: parse, check, summarise, restrict, meter and compile a plan's source."""

from __future__ import annotations

import ast
import types
from collections.abc import Callable, Mapping
from typing import Any

from agentflow.diagnostics import Diagnostic
from agentflow.errors import PlanValidationError
from agentflow.models import PlanSummary
from agentflow.plan.catalogue import ToolSpec, normalise_catalogue
from agentflow.plan.checks import check_language
from agentflow.plan.context import build_context
from agentflow.plan.limits import PlanLimits
from agentflow.plan.policy import DEFAULT_POLICY, PlanPolicy
from agentflow.plan.runnable import RunnablePlan, compile_tree, restrict, source_sha256
from agentflow.plan.steps import check_tools_and_steps
from agentflow.plan.summary import build_summary

#: Plans longer than this are refused before parsing (a plan is a page, not a program).
MAX_SOURCE_CHARS = 200_000

_DEFAULT_LIMITS = PlanLimits()


class CompiledPlan(RunnablePlan):
    """A validated plan, ready to run any number of times: a `RunnablePlan` that passed the checks.

    Attributes:
        summary: what a reviewer needs to know about the plan.
        warnings: non-fatal diagnostics (e.g. computed step names).
        tools: specs of the tools the plan references.
        limits: the compute budget of each `execute` call.
    """

    def __init__(
        self,
        *,
        source: str,
        sha256: str,
        code: types.CodeType,
        summary: PlanSummary,
        warnings: list[Diagnostic],
        tools: dict[str, ToolSpec],
        limits: PlanLimits,
        filename: str,
        policy: PlanPolicy = DEFAULT_POLICY,
    ) -> None:
        super().__init__(
            source=source, sha256=sha256, code=code, limits=limits, filename=filename, policy=policy
        )
        self.limits: PlanLimits = limits
        self.summary = summary
        self.warnings = warnings
        self.tools = tools


def compile_plan(
    source: str,
    tools: Mapping[str, Callable[..., Any] | ToolSpec] | None = None,
    *,
    limits: PlanLimits | None = None,
    filename: str = "<plan>",
    policy: PlanPolicy | None = None,
) -> CompiledPlan:
    """Validate and compile a plan.

    Args:
        source: the plan's Python source.
        tools: the tools the plan may use, as callables or `ToolSpec`s. None accepts any
            `tools.NAME` (as a tool of unknown signature, with side effects).
        limits: the compute budget of each execution (defaults to `PlanLimits()`).
        filename: shown in diagnostics and tracebacks.
        policy: what the plan may use (defaults to `DEFAULT_POLICY`, the whole plan language).

    Returns:
        The compiled plan, with its summary and warnings.

    Raises:
        PlanValidationError: listing every problem found. No other exception escapes, for
            any input string.
    """
    try:
        return _compile(
            source, tools, limits or _DEFAULT_LIMITS, filename, policy or DEFAULT_POLICY
        )
    except PlanValidationError:
        raise
    except (RecursionError, MemoryError):
        message = "the plan is nested too deeply or is too large to analyse; simplify it"
        raise PlanValidationError(
            [Diagnostic(line=1, col=1, code="AF002", message=message)], filename
        ) from None
    except Exception as exc:  # a checker bug must not crash the caller: report it instead
        message = f"the plan could not be analysed ({type(exc).__name__}: {exc}); simplify it"
        raise PlanValidationError(
            [Diagnostic(line=1, col=1, code="AF002", message=message)], filename
        ) from None


def _compile(
    source: str,
    tools: Mapping[str, Callable[..., Any] | ToolSpec] | None,
    limits: PlanLimits,
    filename: str,
    policy: PlanPolicy,
) -> CompiledPlan:
    tree = _parse(source, filename)
    catalogue = normalise_catalogue(tools)
    ctx = build_context(tree, catalogue, policy)
    check_language(ctx)
    calls = check_tools_and_steps(ctx)
    summary = build_summary(ctx, calls)
    errors = [d for d in ctx.diagnostics if d.severity == "error"]
    warnings = [d for d in ctx.diagnostics if d.severity != "error"]
    # RestrictedPython transforms the tree in place (metering it in the same traversal):
    # the checks and the summary above used the parsed tree first.
    flagged_lines = {d.line for d in errors}
    errors.extend(
        Diagnostic(line=v.line, col=v.col, code="AF200", message=v.message)
        for v in restrict(tree)
        if v.line not in flagged_lines
    )
    if errors:
        raise PlanValidationError(_sorted_unique(errors), filename)
    used = {name for name in (t.name for t in summary.tools_used)}
    return CompiledPlan(
        source=source,
        sha256=source_sha256(source),
        code=compile_tree(tree, filename),
        summary=summary,
        warnings=_sorted_unique(warnings),
        tools={
            name: (catalogue or {}).get(name) or ToolSpec.unknown(name) for name in sorted(used)
        },
        limits=limits,
        filename=filename,
        policy=policy,
    )


def _parse(source: str, filename: str) -> ast.Module:
    def fail(line: int, col: int, code: str, message: str) -> PlanValidationError:
        return PlanValidationError(
            [Diagnostic(line=line, col=col, code=code, message=message)], filename
        )

    if not isinstance(source, str):
        raise fail(1, 1, "AF002", f"a plan's source must be text, not {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise fail(1, 1, "AF002", f"the plan is longer than {MAX_SOURCE_CHARS} characters")
    if "\x00" in source:
        line = source.count("\n", 0, source.index("\x00")) + 1
        raise fail(line, 1, "AF002", "the plan contains a null byte; remove it")
    try:
        return ast.parse(source, filename, "exec")
    except SyntaxError as exc:
        message = f"syntax error: {exc.msg}"
        raise fail(max(exc.lineno or 1, 1), max(exc.offset or 1, 1), "AF001", message) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise fail(
            1, 1, "AF002", f"the plan cannot be parsed ({type(exc).__name__}: {exc})"
        ) from None


def _sorted_unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    unique: dict[tuple[int, int, str], Diagnostic] = {}
    for d in diagnostics:
        unique.setdefault((d.line, d.col, d.code), d)
    return sorted(unique.values(), key=lambda d: (d.line, d.col, d.code))
