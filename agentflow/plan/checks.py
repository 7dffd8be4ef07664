"""agentflow's own rules of the plan language, checked on the untransformed syntax tree.

Each check appends diagnostics to the context and never stops at the first problem.
Messages say how to fix the plan: a model reads them and repairs its code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from agentflow.plan.context import PlanContext, suggest
from agentflow.plan.policy import (
    CLOCK_METHODS,
    FORBIDDEN_ATTRIBUTES,
    FORBIDDEN_BUILTINS,
    RESERVED_NAMES,
    SIGNAL_EXCEPTIONS,
)

_MAX_FORMAT_WIDTH = 10_000
_CONSTRUCTS: dict[type[ast.AST], tuple[str, str]] = {
    ast.ClassDef: ("AF110", "class definitions are not allowed; use dicts and functions"),
    ast.AsyncFunctionDef: ("AF111", "async functions are not allowed; write a plain `def`"),
    ast.AsyncFor: ("AF111", "`async for` is not allowed; use a plain `for`"),
    ast.AsyncWith: ("AF111", "`async with` is not allowed"),
    ast.Await: ("AF111", "`await` is not allowed; steps run synchronously in plans"),
    ast.Yield: ("AF112", "`yield` is not allowed; return a list instead"),
    ast.YieldFrom: ("AF112", "`yield from` is not allowed; return a list instead"),
    ast.Global: ("AF113", "`global` is not allowed; pass values as arguments and return them"),
    ast.Nonlocal: ("AF113", "`nonlocal` is not allowed; return values instead"),
    ast.With: ("AF114", "`with` is not allowed in plans"),
    ast.TryStar: ("AF117", "`except*` is not allowed; use `except SomeError:`"),
    ast.Match: ("AF118", "`match` is not supported; use `if`/`elif`"),
}


def check_language(ctx: PlanContext) -> None:
    """Run every language rule over the plan."""
    check_contract(ctx)
    rules = _RULES
    for node in ctx.nodes:
        rule = rules.get(type(node))
        if rule is not None:
            construct, check = rule
            if construct is not None:
                ctx.report(node, *construct)
            if check is not None:
                check(ctx, node)


def _check_decorators(ctx: PlanContext, node: ast.AST) -> None:
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    for decorator in node.decorator_list:
        ctx.report(decorator, "AF115", "decorators are not allowed; call the function")
    if isinstance(node, ast.FunctionDef):
        _check_binding(ctx, node, node.name)


def _check_delete(ctx: PlanContext, node: ast.AST) -> None:
    assert isinstance(node, ast.Delete)
    for target in node.targets:
        if not isinstance(target, ast.Subscript):
            ctx.report(target, "AF116", "only `del container[key]` is allowed")


def _check_aug_assign(ctx: PlanContext, node: ast.AST) -> None:
    assert isinstance(node, ast.AugAssign)
    if not isinstance(node.target, ast.Name):
        ctx.report(
            node,
            "AF119",
            "augmented assignment to an item or attribute is not allowed: write "
            "`d[k] = d[k] + 1` instead of `d[k] += 1`",
        )


def _check_arg(ctx: PlanContext, node: ast.AST) -> None:
    assert isinstance(node, ast.arg)
    _check_binding(ctx, node, node.arg)


def _check_keyword(ctx: PlanContext, node: ast.AST) -> None:
    assert isinstance(node, ast.keyword)
    if node.arg and node.arg.startswith("_"):
        ctx.report(node, "AF120", f"keyword {node.arg!r} may not start with '_'")


def check_contract(ctx: PlanContext) -> None:
    """The module's shape: one `run(event, step)`, and a top level without side effects."""
    runs = [s for s in ctx.tree.body if isinstance(s, ast.FunctionDef) and s.name == "run"]
    if not runs:
        ctx.report(None, "AF101", "the plan must define `def run(event, step):` at top level")
    for extra in runs[1:]:
        ctx.report(extra, "AF103", "`run` is defined more than once; keep a single `run`")
    if ctx.run is not None:
        _check_run_signature(ctx, ctx.run)
    _check_top_level(ctx)


def _check_top_level(ctx: PlanContext) -> None:
    seen_functions: set[str] = set()
    constants: set[str] = set()
    for index, stmt in enumerate(ctx.tree.body):
        if isinstance(stmt, ast.FunctionDef):
            if stmt.name in seen_functions and stmt.name != "run":
                ctx.report(stmt, "AF103", f"function {stmt.name!r} is defined more than once")
            seen_functions.add(stmt.name)
        elif isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass | ast.AsyncFunctionDef):
            continue
        elif isinstance(stmt, ast.ClassDef):
            continue  # reported as AF110
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # the docstring, or another bare string
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            _check_constant_assignment(ctx, stmt, constants)
        else:
            what = type(stmt).__name__
            ctx.report(
                stmt,
                "AF104",
                f"the top level may hold only a docstring, imports, constants and `def`s "
                f"(found {what} at statement {index + 1}); move this code into `run`",
            )


def _check_run_signature(ctx: PlanContext, run: ast.FunctionDef) -> None:
    args = run.args
    names = [a.arg for a in args.args]
    if (
        names != ["event", "step"]
        or args.posonlyargs
        or args.vararg
        or args.kwonlyargs
        or args.kwarg
        or args.defaults
    ):
        ctx.report(
            run,
            "AF102",
            "`run` must take exactly two positional parameters: `def run(event, step):`",
        )


def _check_constant_assignment(
    ctx: PlanContext, stmt: ast.Assign | ast.AnnAssign, constants: set[str]
) -> None:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    if len(names) != len(targets):
        ctx.report(stmt, "AF105", "top-level assignments must bind plain names: `LIMIT = 10`")
    for name in names:
        if name == "run":
            ctx.report(stmt, "AF103", "`run` must be a function, not a constant")
    if stmt.value is not None and not _is_constant_expr(stmt.value, constants):
        ctx.report(
            stmt.value,
            "AF105",
            "top-level constants must be literals (numbers, strings, lists, dicts, ...) "
            "without calls or variables; compute values inside `run`",
        )
    constants.update(names)


def _is_constant_expr(node: ast.expr, constants: set[str]) -> bool:
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, ast.Constant):
            continue
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
            if item.id in constants:
                continue
            return False
        if isinstance(item, ast.Tuple | ast.List | ast.Set):
            pending.extend(item.elts)
        elif isinstance(item, ast.Dict):
            if any(k is None for k in item.keys):
                return False
            pending.extend(k for k in item.keys if k is not None)
            pending.extend(item.values)
        elif isinstance(item, ast.UnaryOp):
            pending.append(item.operand)
        elif isinstance(item, ast.BinOp):
            pending.extend((item.left, item.right))
        else:
            return False
    return True


def _check_try(ctx: PlanContext, node: ast.Try) -> None:
    if node.finalbody:
        ctx.report(
            node.finalbody[0],
            "AF143",
            "`try/finally` is not allowed: a `finally` block could replace or swallow the "
            "runtime's suspension signal; put clean-up code after the `try` or in an `except`",
        )
    for handler in node.handlers:
        if handler.type is None:
            ctx.report(
                handler,
                "AF140",
                "bare `except:` is not allowed (it would catch the runtime's suspension "
                "signal); write `except Exception:` or a narrower class",
            )
            continue
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for kind in kinds:
            _check_exception_class(ctx, kind)


def _check_exception_class(ctx: PlanContext, node: ast.expr) -> None:
    if isinstance(node, ast.Name):
        if node.id in SIGNAL_EXCEPTIONS:
            ctx.report(
                node,
                "AF141",
                f"`except {node.id}` is not allowed: it would swallow the runtime's signals; "
                "catch `Exception` or a narrower class",
            )
            return
        if node.id in ctx.policy.exceptions or _imported_exception(ctx, node.id):
            return
    elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        module = ctx.module_aliases.get(node.value.id, "")
        if _is_exception((ctx.policy.module_attributes(module) or {}).get(node.attr)):
            return
    allowed = ", ".join(sorted(ctx.policy.exceptions))
    ctx.report(node, "AF144", f"`except` must name an exception class: one of {allowed}")


def _imported_exception(ctx: PlanContext, name: str) -> bool:
    module, attr = ctx.from_imports.get(name, ("", ""))
    return _is_exception((ctx.policy.module_attributes(module) or {}).get(attr))


def _is_exception(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, Exception)


def _check_name(ctx: PlanContext, node: ast.Name) -> None:
    name = node.id
    if name.startswith("_") and name != "_":
        ctx.report(node, "AF120", f"names may not start with '_' ({name!r}); rename it")
        return
    if isinstance(node.ctx, ast.Load):
        if name in FORBIDDEN_BUILTINS and name not in ctx.bound:
            ctx.report(
                node, "AF121", f"{name!r} is not available in plans: {FORBIDDEN_BUILTINS[name]}"
            )
        elif name in SIGNAL_EXCEPTIONS:
            ctx.report(node, "AF141", f"{name!r} is not available in plans; use `Exception`")
        elif name not in ctx.bound and name not in ctx.policy.predefined_names:
            if name in ctx.policy.modules:
                hint = f" Add `import {name}` at the top of the plan."
            else:
                hint = suggest(name, ctx.bound | ctx.policy.predefined_names)
            ctx.report(node, "AF125", f"name {name!r} is not defined.{hint}")
    else:
        _check_binding(ctx, node, name)


def _check_binding(ctx: PlanContext, node: ast.AST, name: str) -> None:
    if name.startswith("_") and name != "_":
        ctx.report(node, "AF120", f"names may not start with '_' ({name!r}); rename it")
    elif name in RESERVED_NAMES:
        ctx.report(node, "AF123", f"{name!r} is a reserved name in plans; choose another name")


def _check_attribute(ctx: PlanContext, node: ast.Attribute) -> None:
    attr = node.attr
    if attr.startswith("_"):
        ctx.report(node, "AF120", f"attributes starting with '_' are not accessible ({attr!r})")
    elif attr in ("format", "format_map"):
        ctx.report(
            node,
            "AF122",
            f"str.{attr}() is not allowed (it can reach attributes of its arguments); "
            'use an f-string: f"{name}: {value}"',
        )
    elif attr in FORBIDDEN_ATTRIBUTES:
        ctx.report(node, "AF122", f"attribute {attr!r} is not accessible in plans")
    elif attr in CLOCK_METHODS and _is_datetime_type(ctx, node.value):
        ctx.report(node, "AF122", f"`.{attr}()` reads the clock; use `step.now()` in plans")


def _is_datetime_type(ctx: PlanContext, node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return ctx.from_imports.get(node.id, ("", ""))[0] == "datetime"
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and ctx.module_aliases.get(node.value.id) == "datetime"
    )


def _check_import(ctx: PlanContext, node: ast.Import | ast.ImportFrom) -> None:
    allowed = ", ".join(ctx.policy.modules)
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name not in ctx.policy.modules:
                ctx.report(
                    node,
                    "AF130",
                    f"module {alias.name!r} cannot be imported in plans; allowed: {allowed} "
                    "(use tools for I/O, time and randomness)",
                )
            _check_alias(ctx, node, alias.asname)
        return
    module = node.module or ""
    attributes = ctx.policy.module_attributes(module)
    if node.level or attributes is None:
        ctx.report(
            node, "AF130", f"module {module!r} cannot be imported in plans; allowed: {allowed}"
        )
        return
    for alias in node.names:
        if alias.name == "*":
            ctx.report(node, "AF131", f"`from {module} import *` is not allowed; name what you use")
        elif alias.name not in attributes:
            hint = suggest(alias.name, attributes)
            ctx.report(node, "AF132", f"{module}.{alias.name} is not available to plans.{hint}")
        _check_alias(ctx, node, alias.asname or alias.name)


def _check_alias(ctx: PlanContext, node: ast.AST, name: str | None) -> None:
    if name is not None and name != "*":
        _check_binding(ctx, node, name)


def _check_format_spec(ctx: PlanContext, node: ast.FormattedValue) -> None:
    spec = node.format_spec
    if spec is None:
        return
    parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
    for part in parts:
        if isinstance(part, ast.FormattedValue):
            ctx.report(
                node,
                "AF170",
                "f-string format specs must be literal (no nested `{...}` inside the spec)",
            )
            return
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            numbers = re.findall(r"[0-9]+", part.value)
            if any(len(n) > 6 or int(n) > _MAX_FORMAT_WIDTH for n in numbers):
                ctx.report(
                    node,
                    "AF170",
                    f"f-string widths and precisions are limited to {_MAX_FORMAT_WIDTH}",
                )


_NODE_CHECKS: dict[type[ast.AST], Callable[[PlanContext, Any], None]] = {
    ast.FunctionDef: _check_decorators,
    ast.AsyncFunctionDef: _check_decorators,
    ast.ClassDef: _check_decorators,
    ast.Delete: _check_delete,
    ast.AugAssign: _check_aug_assign,
    ast.Try: _check_try,
    ast.Name: _check_name,
    ast.arg: _check_arg,
    ast.Attribute: _check_attribute,
    ast.Import: _check_import,
    ast.ImportFrom: _check_import,
    ast.FormattedValue: _check_format_spec,
    ast.keyword: _check_keyword,
}

#: Both tables by node type, for one lookup per node.
_RULES: dict[
    type[ast.AST], tuple[tuple[str, str] | None, Callable[[PlanContext, Any], None] | None]
] = {
    kind: (_CONSTRUCTS.get(kind), _NODE_CHECKS.get(kind)) for kind in {*_CONSTRUCTS, *_NODE_CHECKS}
}
