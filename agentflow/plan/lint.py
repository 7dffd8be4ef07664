"""`agentflow check FILE.py`: diagnostics in linter form, or the plan's summary."""

from __future__ import annotations

from typing import TextIO

from agentflow.errors import PlanValidationError
from agentflow.models import PlanSummary, StepSummary
from agentflow.plan.catalogue import ToolSpec
from agentflow.plan.compiler import compile_plan


def check_main(path: str, tool_names: list[str] | None, *, out: TextIO) -> int:
    """Check the plan in `path` and report to `out`.

    Args:
        path: the plan's file.
        tool_names: the tools the plan may use (unknown signatures, assumed to have side
            effects); None accepts any `tools.NAME`.
        out: where to write.

    Returns:
        0 when the plan is valid (its summary is printed), 1 otherwise (one
        `file:line:col: CODE message` line per problem).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}:1:1: AF000 cannot read the plan: {exc}", file=out)
        return 1
    tools = None if tool_names is None else {n: ToolSpec.unknown(n) for n in tool_names}
    try:
        plan = compile_plan(source, tools, filename=path)
    except PlanValidationError as exc:
        for diagnostic in exc.diagnostics:
            print(diagnostic.format(path), file=out)
        return 1
    for warning in plan.warnings:
        print(warning.format(path) + " (warning)", file=out)
    print(format_summary(plan.summary), file=out)
    return 0


def format_summary(summary: PlanSummary) -> str:
    """Render a summary as readable text for terminals and reviews."""
    lines = [f"Plan: {summary.docstring or '(no docstring)'}", f"Risk: {summary.risk}"]
    lines += [f"  - {reason}" for reason in summary.risk_reasons]
    lines.append("Steps:")
    for step in summary.steps:
        name = repr(step.name) if step.name is not None else "<computed>"
        details = " ".join(_step_details(step))
        lines.append(f"  line {step.line}: step.{step.kind} {name} {details}".rstrip())
    if summary.tools_used:
        lines.append("Tools:")
        for tool in summary.tools_used:
            effect = "side effects" if tool.side_effects else "read-only"
            lines.append(f"  {tool.name} x{tool.count} ({effect})")
    if summary.total_sleep_seconds:
        lines.append(f"Total sleep: {summary.total_sleep_seconds:g} s")
    if summary.event_types:
        lines.append(f"Waits for events: {', '.join(summary.event_types)}")
    if summary.imports:
        lines.append(f"Imports: {', '.join(summary.imports)}")
    return "\n".join(lines)


def _step_details(step: StepSummary) -> list[str]:
    details = []
    if step.tool:
        details.append(f"tool={step.tool if isinstance(step.tool, str) else ','.join(step.tool)}")
    if step.duration_seconds is not None:
        details.append(f"duration={step.duration_seconds:g}s")
    if step.until:
        details.append(f"until={step.until}")
    if step.event_type:
        details.append(f"event={step.event_type}")
    if step.timeout_seconds is not None:
        details.append(f"timeout={step.timeout_seconds:g}s")
    if step.in_loop:
        details.append("in loop")
    if step.side_effects:
        details.append("side effects")
    return details
