"""What changed between two versions of a plan, in words a reviewer reads above the diff.

Computed from the compiler's summaries (steps, tools, sleeps and waits) and from the syntax
trees (each tool call's literal arguments and how many times a loop repeats it), never from the
text of a diff.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agentflow.durations import duration_words
from agentflow.models import PlanSummary, StepSummary

#: Keywords of `step.do`/`step.map` that configure the step rather than feed the tool.
STEP_OPTIONS = frozenset({"retries", "timeout", "name"})
_WAIT_KINDS = ("sleep", "sleep_until", "wait_for_event")


@dataclass
class ToolCalls:
    """How a plan calls one tool: call sites, calls in all, and the literal arguments given.

    `count` is the number of calls a run makes, when every loop around the calls has a literal
    length (`range(5)`, a list literal); None when a loop's length is decided at run time.
    `literals` maps a keyword to the literal values passed for it, one per call site.
    """

    tool: str
    sites: int = 0
    count: int | None = 0
    in_loop: bool = False
    literals: dict[str, list[Any]] = field(default_factory=dict)


def tool_calls(source: str) -> dict[str, ToolCalls]:
    """Every tool a plan's steps call (`step.do("x", tools.NAME, ...)`), by tool name."""
    found: dict[str, ToolCalls] = {}
    for call, repeat in _calls(ast.parse(source), 1):
        for argument in call.args:
            name = _tool_name(argument)
            if name is None:
                continue
            entry = found.setdefault(name, ToolCalls(name))
            times = None if _is_map(call) else repeat
            entry.sites += 1
            entry.in_loop = entry.in_loop or times != 1
            entry.count = None if entry.count is None or times is None else entry.count + times
            for keyword in call.keywords:
                if keyword.arg and keyword.arg not in STEP_OPTIONS:
                    entry.literals.setdefault(keyword.arg, []).append(_literal(keyword.value))
    return found


def _calls(node: ast.AST, repeat: int | None) -> Iterator[tuple[ast.Call, int | None]]:
    """Each call in `node`, with how many times the loops around it repeat it (None: unknown)."""
    if isinstance(node, ast.For | ast.AsyncFor):
        length = _loop_length(node.iter)
        inner = None if repeat is None or length is None else repeat * length
        yield from _calls(node.iter, repeat)
        for part in (*node.body, *node.orelse):
            yield from _calls(part, inner)
        return
    if isinstance(node, ast.While | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        repeat = None
    if isinstance(node, ast.Call):
        yield node, repeat
    for child in ast.iter_child_nodes(node):
        yield from _calls(child, repeat)


def _loop_length(iterable: ast.expr) -> int | None:
    """The literal number of times a `for` over `iterable` repeats, or None."""
    if isinstance(iterable, ast.List | ast.Tuple | ast.Set):
        return len(iterable.elts)
    if (
        isinstance(iterable, ast.Call)
        and isinstance(iterable.func, ast.Name)
        and iterable.func.id == "range"
        and not iterable.keywords
    ):
        bounds = [_literal(a) for a in iterable.args]
        if bounds and all(type(b) is int for b in bounds):
            return len(range(*bounds))
    return None


def _tool_name(node: ast.expr) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "tools"
    ):
        return node.attr
    return None


def _is_map(call: ast.Call) -> bool:
    return isinstance(call.func, ast.Attribute) and call.func.attr == "map"


def _literal(node: ast.expr) -> Any:
    """The value of a literal expression; `...` (Ellipsis) when it is decided at run time."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ...


# --- what changed ------------------------------------------------------------------------------


def what_changed(before: PlanSummary, after: PlanSummary) -> list[str]:
    """Steps added, removed and moved, tools added and removed, durations changed."""
    return [
        *_step_changes(before.steps, after.steps),
        *_tool_changes(before, after),
        *_duration_changes(before.steps, after.steps),
    ]


def _names(steps: list[StepSummary]) -> list[str]:
    """Step names in order of first appearance (computed names left out)."""
    return list(dict.fromkeys(s.name for s in steps if s.name is not None))


def _step_changes(before: list[StepSummary], after: list[StepSummary]) -> list[str]:
    old, new = _names(before), _names(after)
    lines = {s.name: s.line for s in after if s.name is not None}
    changes = [f"step {n!r} added (line {lines[n]})" for n in new if n not in old]
    changes += [f"step {n!r} removed" for n in old if n not in new]
    kept_old = [n for n in old if n in new]
    kept_new = [n for n in new if n in old]
    for index, name in enumerate(kept_new):
        if kept_old[index] != name:
            was = kept_old.index(name)
            changes.append(
                f"step {name!r} moved: it was step {was + 1} of those both versions have, "
                f"now step {index + 1}"
            )
    return changes


def _tool_changes(before: PlanSummary, after: PlanSummary) -> list[str]:
    old = {t.name for t in before.tools_used}
    changes = []
    for tool in after.tools_used:
        if tool.name not in old:
            effects = " (side effects)" if tool.side_effects else ""
            changes.append(f"tool {tool.name!r} added{effects}")
    new = {t.name for t in after.tools_used}
    changes += [f"tool {t.name!r} removed" for t in before.tools_used if t.name not in new]
    return changes


def _duration_changes(before: list[StepSummary], after: list[StepSummary]) -> list[str]:
    old = {s.name: s for s in before if s.name is not None and s.kind in _WAIT_KINDS}
    changes = []
    for step in after:
        was = old.get(step.name or "")
        if was is None or step.kind not in _WAIT_KINDS:
            continue
        for what, then, now in (
            ("duration", was.duration_seconds, step.duration_seconds),
            ("timeout", was.timeout_seconds, step.timeout_seconds),
        ):
            if then != now and (then is not None or now is not None):
                changes.append(
                    f"{step.kind.replace('_', ' ')} {step.name!r}: {what} changed from "
                    f"{words(then)} to {words(now)}"
                )
        if was.until != step.until:
            changes.append(
                f"{step.kind} {step.name!r}: until changed from {was.until} to {step.until}"
            )
    return changes


def words(seconds: float | None) -> str:
    """A duration in words (`1 day`, `30 seconds`); `decided at run time` when unknown."""
    return "decided at run time" if seconds is None else duration_words(seconds)


# --- side-effecting calls whose amount or count changed ----------------------------------------


def call_changes(
    before: dict[str, ToolCalls], after: dict[str, ToolCalls], side_effecting: set[str]
) -> list[str]:
    """Side-effecting tools that both versions call, whose call count or arguments changed."""
    reasons = []
    for tool in sorted(side_effecting & before.keys() & after.keys()):
        old, new = before[tool], after[tool]
        if old.count != new.count or old.in_loop != new.in_loop:
            reasons.append(
                f"side-effecting tool {tool!r} is called {_times(new)} instead of {_times(old)}"
            )
        for keyword in sorted(old.literals.keys() & new.literals.keys()):
            then, now = old.literals[keyword], new.literals[keyword]
            if then != now:
                reasons.append(
                    f"{tool}({keyword}=...) changed from {_values(then)} to {_values(now)}"
                    + _totals(keyword, old, new)
                )
    return reasons


def _times(calls: ToolCalls) -> str:
    if calls.count is None:
        return "a number of times decided at run time (inside a loop)"
    if calls.count == 1:
        return "once"
    where = " (in a loop)" if calls.in_loop else ""
    return f"{calls.count} times{where}"


def _values(values: list[Any]) -> str:
    shown = ["(decided at run time)" if v is ... else repr(v) for v in values]
    return ", ".join(dict.fromkeys(shown))


def _total(keyword: str, calls: ToolCalls) -> float | None:
    values = calls.literals.get(keyword) or []
    if calls.count is None or len(values) != calls.sites or len(set(map(repr, values))) != 1:
        return None
    value = values[0]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value * calls.count


def _totals(keyword: str, old: ToolCalls, new: ToolCalls) -> str:
    then, now = _total(keyword, old), _total(keyword, new)
    if then is None or now is None or old.count == new.count:
        return ""
    each = new.literals[keyword][0]
    same = "the same total as" if then == now else "against"
    return f": {new.count} x {each!r} = {now:g} in all, {same} {then:g} before"
