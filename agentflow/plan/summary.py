"""The reviewer's summary of a plan: its steps, waits, tools and a risk level with reasons."""

from __future__ import annotations

import ast
from typing import Literal

from agentflow.models import PlanSummary, StepSummary, ToolUse
from agentflow.plan.attributes import KNOWN_ATTRIBUTES
from agentflow.plan.context import PlanContext
from agentflow.plan.steps import StepCall

#: Thresholds behind the risk reasons (documented in `assess_risk`).
HIGH_RETRY_LIMIT = 5
LONG_WAIT_SECONDS = 7 * 86400.0
LONG_SLEEP_SECONDS = 30 * 86400.0


def build_summary(ctx: PlanContext, calls: list[StepCall]) -> PlanSummary:
    """Summarise a checked plan from its syntax tree and step calls."""
    steps = [_step_summary(ctx, call) for call in calls]
    counts: dict[str, int] = {}
    first: dict[str, tuple[int, int]] = {}
    for node in ctx.tool_references:
        name = node.attr
        counts[name] = counts.get(name, 0) + 1
        position = (node.lineno, node.col_offset)
        first[name] = min(first.get(name, position), position)
    ordered = sorted(counts, key=first.__getitem__)
    tools_used = [
        ToolUse(name=n, side_effects=_side_effects(ctx, n), count=counts[n]) for n in ordered
    ]
    in_loops = [s for s in steps if s.side_effects and (s.in_loop or s.kind == "map")]
    event_types: list[str] = []
    for step in steps:
        if step.event_type and step.event_type not in event_types:
            event_types.append(step.event_type)
    imports: list[str] = []
    for statement in ctx.imports:
        modules = (
            [a.name for a in statement.names]
            if isinstance(statement, ast.Import)
            else [statement.module or ""]
        )
        imports.extend(m for m in modules if m not in imports)
    risk, reasons = assess_risk(steps, in_loops, calls)
    unexplained = unexplained_attributes(ctx)
    if unexplained:
        risk = "high"
        reasons = [
            "reads attributes that no value a plan can reach has: "
            + ", ".join(f"{name!r} (line {line})" for name, line in unexplained)
            + "; at run time they fail, so the plan may be probing for a way out",
            *(r for r in reasons if r != "no side-effecting steps"),
        ]
    return PlanSummary(
        docstring=ast.get_docstring(ctx.tree),
        steps=steps,
        total_sleep_seconds=sum(s.duration_seconds or 0.0 for s in steps if s.kind == "sleep"),
        event_types=event_types,
        tools_used=tools_used,
        side_effects_in_loops=in_loops,
        imports=sorted(imports),
        risk=risk,
        risk_reasons=reasons,
    )


def unexplained_attributes(ctx: PlanContext) -> list[tuple[str, int]]:
    """`x.name` reads (outside `tools.NAME`) of names that no plan-reachable value has."""
    found: list[tuple[str, int]] = []
    for node in ctx.nodes:
        if type(node) is not ast.Attribute or node.attr in KNOWN_ATTRIBUTES:
            continue
        if type(node.value) is ast.Name and node.value.id == "tools":
            continue
        if (node.attr, node.lineno) not in found:
            found.append((node.attr, node.lineno))
    return found


def assess_risk(
    steps: list[StepSummary], in_loops: list[StepSummary], calls: list[StepCall]
) -> tuple[Literal["low", "medium", "high"], list[str]]:
    """Grade a plan.

    - high: a side-effecting step inside a loop or a `step.map` fan-out (it may act many
      times), or a side-effecting step retried more than `HIGH_RETRY_LIMIT` times;
    - medium: any other side-effecting step, a step whose function cannot be resolved
      statically (assumed to have side effects), a computed step name, a wait longer than
      `LONG_WAIT_SECONDS` or sleeps longer than `LONG_SLEEP_SECONDS` in total;
    - low: none of the above (the plan only reads, sleeps and waits).
    """
    high = _high_risks(steps, in_loops)
    medium = _medium_risks(steps, in_loops, calls)
    if high:
        return "high", high + medium
    if medium:
        return "medium", medium
    return "low", ["no side-effecting steps"]


def _high_risks(steps: list[StepSummary], in_loops: list[StepSummary]) -> list[str]:
    high: list[str] = []
    for step in in_loops:
        where = "in a step.map fan-out" if step.kind == "map" else "inside a loop"
        high.append(f"step {_label(step)} (line {step.line}) has side effects {where}")
    for step in steps:
        if step.side_effects and (step.retries_limit or 0) > HIGH_RETRY_LIMIT:
            high.append(
                f"step {_label(step)} (line {step.line}) retries a side-effecting call "
                f"{step.retries_limit} times"
            )
    return high


def _medium_risks(
    steps: list[StepSummary], in_loops: list[StepSummary], calls: list[StepCall]
) -> list[str]:
    medium: list[str] = []
    effectful = [s for s in steps if s.side_effects and s not in in_loops]
    if effectful:
        tools = sorted({t for s in effectful for t in _tools_of(s)})
        medium.append(
            "side-effecting steps: "
            + ", ".join(f"{_label(s)} (line {s.line})" for s in effectful)
            + (f" using {', '.join(tools)}" if tools else "")
        )
    for call in calls:
        if call.dynamic_fn:
            medium.append(
                f"step.{call.kind} at line {call.node.lineno} runs a function that cannot be "
                "resolved statically (assumed to have side effects)"
            )
    dynamic = [s.line for s in steps if s.name is None and s.kind != "now"]
    if dynamic:
        medium.append(f"computed step names at lines {', '.join(map(str, dynamic))}")
    for step in steps:
        if (step.timeout_seconds or 0) > LONG_WAIT_SECONDS:
            medium.append(
                f"wait {_label(step)} (line {step.line}) may last {_days(step.timeout_seconds)}"
            )
    total_sleep = sum(s.duration_seconds or 0.0 for s in steps if s.kind == "sleep")
    if total_sleep > LONG_SLEEP_SECONDS:
        medium.append(f"sleeps add up to {_days(total_sleep)}")
    return medium


def _step_summary(ctx: PlanContext, call: StepCall) -> StepSummary:
    tool: str | list[str] | None = None
    if call.kind == "parallel":
        tool = list(call.tools)
    elif call.tools:
        tool = call.tools[0] if len(call.tools) == 1 else list(call.tools)
    side_effects = call.kind in ("do", "map", "parallel") and (
        call.dynamic_fn or any(_side_effects(ctx, t) for t in call.tools)
    )
    return StepSummary(
        kind=call.kind,  # type: ignore[arg-type]
        name=call.name,
        tool=tool,
        line=call.node.lineno,
        in_loop=call.in_loop,
        side_effects=side_effects,
        duration_seconds=call.duration_seconds,
        until=call.until,
        event_type=call.event_type,
        timeout_seconds=call.timeout_seconds,
        retries_limit=call.retries_limit,
    )


def _side_effects(ctx: PlanContext, tool: str) -> bool:
    spec = ctx.tools.get(tool) if ctx.tools is not None else None
    return True if spec is None else spec.side_effects


def _tools_of(step: StepSummary) -> list[str]:
    if step.tool is None:
        return []
    return [step.tool] if isinstance(step.tool, str) else list(step.tool)


def _label(step: StepSummary) -> str:
    return repr(step.name) if step.name is not None else f"step.{step.kind}(<computed name>)"


def _days(seconds: float | None) -> str:
    return f"{(seconds or 0.0) / 86400:g} days"
