"""Checks of `tools.NAME` and `step.*` usage, and the static description of each step call.

The summary for reviewers is built from the same `StepCall` records, so what the compiler
checks and what a reviewer sees cannot drift apart.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from agentflow.durations import parse_duration, parse_instant
from agentflow.plan.catalogue import ToolSpec
from agentflow.plan.context import PlanContext, suggest
from agentflow.plan.policy import BACKOFF_STRATEGIES, MAX_RETRIES, RETRY_KEYS, STEP_METHODS

DEFAULT_WAIT_TIMEOUT = 24 * 3600.0
_STEP_OPTIONS = frozenset({"retries", "timeout"})


@dataclass
class StepCall:
    """What can be known statically about one `step.<kind>(...)` call."""

    node: ast.Call
    kind: str
    name: str | None = None
    dynamic_name: bool = False
    tools: list[str] = field(default_factory=list)
    dynamic_fn: bool = False
    in_loop: bool = False
    duration_seconds: float | None = None
    until: str | None = None
    event_type: str | None = None
    timeout_seconds: float | None = None
    retries_limit: int | None = None


def check_tools_and_steps(ctx: PlanContext) -> list[StepCall]:
    """Check every use of `tools` and `step`; return the step calls in source order."""
    calls: list[StepCall] = []
    for node in ctx.nodes:
        kind = type(node)  # parsed trees hold no subclasses of the node types
        if kind is ast.Name:
            if node.id == "tools":  # type: ignore[attr-defined]
                _check_tools_use(ctx, node)  # type: ignore[arg-type]
        elif kind is ast.Attribute:
            if (
                _is_name(node.value, "step")  # type: ignore[attr-defined]
                and node.attr not in STEP_METHODS  # type: ignore[attr-defined]
                and not node.attr.startswith("_")  # type: ignore[attr-defined]
            ):
                attr = node.attr  # type: ignore[attr-defined]
                hint = suggest(attr, STEP_METHODS)
                methods = ", ".join(STEP_METHODS)
                ctx.report(node, "AF160", f"step has no method {attr!r}.{hint} ({methods})")
        elif kind is ast.Call:
            assert isinstance(node, ast.Call)
            tool = tool_name(node.func)
            if tool is not None:
                _check_direct_tool_call(ctx, node, tool)
            elif (
                isinstance(node.func, ast.Attribute)
                and _is_name(node.func.value, "step")
                and node.func.attr in STEP_METHODS
            ):
                calls.append(_check_step_call(ctx, node, node.func.attr))
    calls.sort(key=lambda c: (c.node.lineno, c.node.col_offset))
    return calls


def tool_name(node: ast.AST) -> str | None:
    """`X` when `node` is `tools.X`, else None."""
    if isinstance(node, ast.Attribute) and _is_name(node.value, "tools"):
        return node.attr
    return None


def tools_referenced(node: ast.AST) -> list[str]:
    """Every `tools.X` inside `node`, in walk order."""
    found = [tool_name(n) for n in ast.walk(node)]
    return [name for name in found if name is not None]


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _check_tools_use(ctx: PlanContext, node: ast.Name) -> None:
    parent = ctx.parents.get(node)
    if not isinstance(node.ctx, ast.Load):
        return  # rebinding `tools` is reported as AF123
    if not (isinstance(parent, ast.Attribute) and parent.value is node):
        ctx.report(
            node,
            "AF151",
            "`tools` may only be used as `tools.NAME`; it cannot be stored, passed or iterated",
        )
        return
    if not isinstance(parent.ctx, ast.Load):
        ctx.report(parent, "AF151", "`tools` is read-only; tools cannot be replaced or deleted")
    elif ctx.tools is not None and parent.attr not in ctx.tools and not parent.attr.startswith("_"):
        names = ", ".join(sorted(ctx.tools)) or "none"
        hint = suggest(parent.attr, ctx.tools)
        ctx.report(parent, "AF150", f"unknown tool {parent.attr!r}.{hint} (available: {names})")


def _spec(ctx: PlanContext, name: str) -> ToolSpec | None:
    if ctx.tools is None:
        return None
    return ctx.tools.get(name)


def _check_direct_tool_call(ctx: PlanContext, node: ast.Call, tool: str) -> None:
    if ctx.run is not None and ctx.enclosing_function(node) is ctx.run:
        ctx.report(
            node,
            "AF153",
            f"call tools through a step so the result is checkpointed: "
            f'`step.do("<name>", tools.{tool}, ...)` instead of `tools.{tool}(...)`',
        )
    _check_signature(ctx, node, tool, node.args, node.keywords)


def _check_signature(
    ctx: PlanContext,
    node: ast.AST,
    tool: str,
    args: list[ast.expr],
    keywords: list[ast.keyword],
) -> None:
    spec = _spec(ctx, tool)
    if spec is None or any(isinstance(a, ast.Starred) for a in args):
        return
    if any(k.arg is None for k in keywords):
        return
    placeholders = [object()] * len(args)
    try:
        spec.signature.bind(*placeholders, **{k.arg: object() for k in keywords if k.arg})
    except TypeError as exc:
        ctx.report(
            node,
            "AF152",
            f"arguments do not fit tools.{tool}{spec.signature}: {exc}",
        )


def _argument(node: ast.Call, index: int, *keywords: str) -> ast.expr | None:
    leading = node.args[: index + 1]
    if len(leading) > index and not any(isinstance(a, ast.Starred) for a in leading):
        return node.args[index]
    for keyword in node.keywords:
        if keyword.arg in keywords:
            return keyword.value
    return None


def _keyword(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _constant(node: ast.expr | None) -> tuple[bool, object]:
    if isinstance(node, ast.Constant):
        return True, node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        known, value = _constant(node.operand)
        if known and isinstance(value, int | float):
            return True, -value
    return False, None


def _check_step_call(ctx: PlanContext, node: ast.Call, kind: str) -> StepCall:
    call = StepCall(node=node, kind=kind, in_loop=ctx.in_loop(node))
    if kind == "now":
        if node.args or node.keywords:
            ctx.report(node, "AF167", "step.now() takes no arguments")
        return call
    _check_step_name(ctx, node, call)
    if kind in ("do", "map"):
        _check_step_fn(ctx, node, call)
    elif kind == "parallel":
        _check_parallel(ctx, node, call)
    elif kind == "sleep":
        value = _argument(node, 1, "duration")
        if value is None:
            ctx.report(node, "AF161", 'step.sleep needs a duration: step.sleep("name", "1 hour")')
        call.duration_seconds = _literal_duration(ctx, value, "step.sleep")
    elif kind == "sleep_until":
        _check_until(ctx, node, call)
    elif kind == "wait_for_event":
        _check_wait(ctx, node, call)
    return call


def _check_step_name(ctx: PlanContext, node: ast.Call, call: StepCall) -> None:
    value = _argument(node, 0, "name")
    example = f'step.{call.kind}("describe the step", ...)'
    if value is None:
        ctx.report(node, "AF161", f"step.{call.kind} needs a step name first: {example}")
        return
    known, literal = _constant(value)
    if known:
        if not isinstance(literal, str) or not literal.strip():
            ctx.report(value, "AF161", f"a step name must be a non-empty string: {example}")
        else:
            call.name = literal
    elif isinstance(value, ast.JoinedStr):
        call.dynamic_name = True
    else:
        call.dynamic_name = True
        ctx.report(
            value,
            "AF162",
            "the step name is computed; prefer a string literal or f-string so reviewers "
            "and replays can recognise the step",
            warning=True,
        )


def _check_step_fn(ctx: PlanContext, node: ast.Call, call: StepCall) -> None:
    fn = _argument(node, 1, "fn")
    if fn is None:
        ctx.report(
            node,
            "AF161",
            f'step.{call.kind} needs a function: step.{call.kind}("name", tools.NAME, ...)',
        )
        return
    tool = tool_name(fn)
    if tool is not None:
        call.tools = [tool]
        if call.kind == "do":
            args = node.args[2:] if len(node.args) >= 2 else []
            keywords = [k for k in node.keywords if k.arg not in _STEP_OPTIONS and k.arg != "fn"]
            _check_signature(ctx, node, tool, args, keywords)
        else:
            _check_signature(ctx, node, tool, [ast.Constant(None)], [])
    elif isinstance(fn, ast.Lambda):
        call.tools = tools_referenced(fn)
    elif isinstance(fn, ast.Name) and fn.id in ctx.functions:
        call.tools = tools_referenced(ctx.functions[fn.id])
    else:
        call.dynamic_fn = True
    if call.kind == "do":
        _check_retries(ctx, _keyword(node, "retries"), call)
        _literal_duration(ctx, _keyword(node, "timeout"), "timeout")


def _check_parallel(ctx: PlanContext, node: ast.Call, call: StepCall) -> None:
    branches = _argument(node, 1, "fns", "branches")
    if branches is None:
        ctx.report(node, "AF161", 'step.parallel needs a dict of functions: {"key": tools.NAME}')
        return
    if not isinstance(branches, ast.Dict):
        call.dynamic_fn = True
        return
    for value in branches.values:
        tool = tool_name(value)
        if tool is not None:
            call.tools.append(tool)
            _check_signature(ctx, value, tool, [], [])
        elif isinstance(value, ast.Lambda):
            call.tools.extend(tools_referenced(value))
        elif isinstance(value, ast.Name) and value.id in ctx.functions:
            call.tools.extend(tools_referenced(ctx.functions[value.id]))
        else:
            call.dynamic_fn = True


def _check_until(ctx: PlanContext, node: ast.Call, call: StepCall) -> None:
    value = _argument(node, 1, "when", "until")
    if value is None:
        ctx.report(
            node,
            "AF161",
            'step.sleep_until needs a time: step.sleep_until("name", "2030-01-01T09:00:00Z")',
        )
        return
    known, literal = _constant(value)
    if not known:
        return
    try:
        call.until = parse_instant(literal).isoformat()
    except (ValueError, OverflowError, OSError) as exc:
        ctx.report(
            value, "AF165", f"step.sleep_until: {exc}; use ISO-8601 like '2030-01-01T09:00:00Z'"
        )


def _check_wait(ctx: PlanContext, node: ast.Call, call: StepCall) -> None:
    kind = _argument(node, 1, "type", "event_type")
    if kind is None:
        ctx.report(node, "AF166", 'step.wait_for_event needs an event type: type="approval"')
    else:
        known, literal = _constant(kind)
        if known and not (isinstance(literal, str) and literal):
            ctx.report(kind, "AF166", "the event type must be a non-empty string")
        elif known:
            call.event_type = str(literal)
    timeout = _argument(node, 2, "timeout")
    if timeout is None:
        call.timeout_seconds = DEFAULT_WAIT_TIMEOUT
    else:
        call.timeout_seconds = _literal_duration(ctx, timeout, "timeout")


def _literal_duration(ctx: PlanContext, node: ast.expr | None, what: str) -> float | None:
    known, literal = _constant(node)
    if not known or literal is None:
        return None
    try:
        return parse_duration(literal)
    except (ValueError, OverflowError) as exc:
        ctx.report(node, "AF163", f"{what}: {exc}")
        return None


def _check_retries(ctx: PlanContext, node: ast.expr | None, call: StepCall) -> None:
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return
    if not isinstance(node, ast.Dict):
        if isinstance(node, ast.Constant | ast.List | ast.Tuple | ast.Set):
            ctx.report(node, "AF164", 'retries must be a dict: {"limit": 3, "delay": "10 seconds"}')
        return
    for key, value in zip(node.keys, node.values, strict=True):
        known, name = _constant(key) if key is not None else (False, None)
        if not known:
            continue
        if name not in RETRY_KEYS:
            hint = suggest(str(name), RETRY_KEYS)
            ctx.report(key, "AF164", f"unknown retries key {name!r}.{hint} (limit, delay, backoff)")
            continue
        _check_retry_value(ctx, str(name), value, call)


def _check_retry_value(ctx: PlanContext, name: str, value: ast.expr, call: StepCall) -> None:
    literal_known, literal = _constant(value)
    if not literal_known:
        return
    if name == "limit":
        if type(literal) is not int or not 0 <= literal <= MAX_RETRIES:
            ctx.report(
                value,
                "AF164",
                f"retries['limit'] must be an integer from 0 to {MAX_RETRIES}",
            )
        else:
            call.retries_limit = literal
    elif name == "delay":
        _literal_duration(ctx, value, "retries['delay']")
    elif name == "backoff" and literal not in BACKOFF_STRATEGIES:
        choices = ", ".join(BACKOFF_STRATEGIES)
        ctx.report(value, "AF164", f"retries['backoff'] must be one of {choices}")
