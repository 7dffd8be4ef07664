"""Compile-time rewriting of a checked plan's tree into the code that runs.

RestrictedPython turns attribute, item and iteration access into calls of the run-time guards
(`_getattr_`, `_getitem_`, `_getiter_`, ... in `guards.py`), and the meter rewrite inserts the
calls that charge the compute budget (`_tick_`, `_enter_`/`_leave_`, `_op_pow_`, ... served by
`budget.Meter` and `guards.PlanGuards`):

- `while` bodies start with `_tick_()` (`for` loops and comprehensions tick through the metered
  `_getiter_` that RestrictedPython already inserted);
- plan `def` bodies become `_enter_(); try: <body> finally: _leave_()` (call depth);
- lambdas become `lambda ...: _tick_() or <body>`;
- `**`, `<<`, `*`, and `+`/`%` where a big sequence could result, become guard calls;
- values interpolated into f-strings go through `_fmt_`, which bounds their rendered size.

Both happen in one traversal (`MeteredPlanTransformer`).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any, NamedTuple

from agentflow.plan.traversal import FastRestrictingTransformer


class Violation(NamedTuple):
    """A RestrictedPython rule a plan breaks: where (1-based line and column) and which.

    Plain data: a sandbox process rewrites plans too, and it never builds a `Diagnostic`.
    The compiler reports each as an AF200 diagnostic.
    """

    line: int
    col: int
    message: str


class PlanTransformer(FastRestrictingTransformer):
    """RestrictedPython's transformer, reporting structured violations.

    agentflow's own checks run first and explain most problems better; this transformer is the
    second line of defence, and it rewrites attribute, item and iteration access into calls to
    the guards that `guards.py` supplies.
    """

    def __init__(self) -> None:
        super().__init__()
        self.diagnostics: list[Violation] = []

    def error(self, node: ast.AST, info: str) -> None:
        """Record a violation with its position instead of a formatted string."""
        self.diagnostics.append(
            Violation(
                line=getattr(node, "lineno", 1) or 1,
                col=(getattr(node, "col_offset", 0) or 0) + 1,
                message=f"{info} (RestrictedPython rule)",
            )
        )

    def warn(self, node: ast.AST, info: str) -> None:
        """Drop RestrictedPython's warnings: they concern its `printed` idiom, not ours."""


#: Binary operators routed through size-estimating guards, by AST operator type.
GUARDED_BINOPS: dict[type[ast.operator], str] = {
    ast.Pow: "_op_pow_",
    ast.LShift: "_op_lshift_",
    ast.Mult: "_op_mul_",
    ast.Add: "_op_add_",
    ast.Mod: "_op_mod_",
}


def _call(name: str, *args: ast.expr, at: ast.AST) -> ast.Call:
    # Locations are set here, on the new nodes only: `ast.fix_missing_locations` over the
    # whole tree would cost more than the rest of the rewrite.
    func = ast.copy_location(ast.Name(id=name, ctx=ast.Load()), at)
    return ast.copy_location(ast.Call(func=func, args=list(args), keywords=[]), at)


def _expr(call: ast.Call) -> ast.Expr:
    return ast.copy_location(ast.Expr(call), call)


def _is_number(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float, complex)


def _meter_while(node: ast.While) -> ast.AST:
    node.body.insert(0, _expr(_call("_tick_", at=node)))
    return node


def _meter_function(node: ast.FunctionDef) -> ast.AST:
    guarded = ast.Try(
        body=node.body, handlers=[], orelse=[], finalbody=[_expr(_call("_leave_", at=node))]
    )
    node.body = [_expr(_call("_enter_", at=node)), ast.copy_location(guarded, node)]
    return node


def _meter_lambda(node: ast.Lambda) -> ast.AST:
    body = ast.BoolOp(op=ast.Or(), values=[_call("_tick_", at=node.body), node.body])
    node.body = ast.copy_location(body, node.body)
    return node


def _meter_binop(node: ast.BinOp) -> ast.AST:
    guard = GUARDED_BINOPS.get(type(node.op))
    if guard is None:
        return node
    if _is_number(node.left) and _is_number(node.right) and guard in ("_op_add_", "_op_mod_"):
        return node
    # One side a literal number: `+` cannot double a sequence.
    if guard == "_op_add_" and (_is_number(node.left) or _is_number(node.right)):
        return node
    if guard == "_op_mod_" and _is_number(node.left):
        return node
    return _call(guard, node.left, node.right, at=node)


def _meter_formatted_value(node: ast.FormattedValue) -> ast.AST:
    node.value = _call("_fmt_", node.value, at=node.value)
    return node


_METER_REWRITES: dict[type[ast.AST], Callable[[Any], ast.AST]] = {
    ast.While: _meter_while,
    ast.FunctionDef: _meter_function,
    ast.Lambda: _meter_lambda,
    ast.BinOp: _meter_binop,
    ast.FormattedValue: _meter_formatted_value,
}


def meter_rewrite(node: ast.AST) -> ast.AST:
    """The meter rewrite of one node whose children are final; other nodes come back as is."""
    rewrite = _METER_REWRITES.get(type(node))
    return node if rewrite is None else rewrite(node)


class MeteredPlanTransformer(PlanTransformer):
    """`PlanTransformer` and the meter rewrite, in a single traversal.

    Each node is first transformed by RestrictedPython (children included, metered on the
    way), then gets its meter rewrite, so the resulting tree is the same as with two passes
    (RestrictedPython's, then the meter's): RestrictedPython never creates the node types
    metered here, and the meter rewrite only looks at a node after its children are final.
    """

    def visit_While(self, node: ast.While) -> Any:
        """RestrictedPython's `while`, then `_tick_()` first in its body."""
        return _metered(super().visit_While(node), ast.While)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        """RestrictedPython's `def`, then its body between `_enter_()` and `_leave_()`."""
        return _metered(super().visit_FunctionDef(node), ast.FunctionDef)

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        """RestrictedPython's `lambda`, then `_tick_() or` before its body."""
        return _metered(super().visit_Lambda(node), ast.Lambda)

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        """RestrictedPython's binary operation, then a size guard where one is needed."""
        return _metered(super().visit_BinOp(node), ast.BinOp)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        """RestrictedPython's f-string value, then `_fmt_` around it."""
        return _metered(super().visit_FormattedValue(node), ast.FormattedValue)


def _metered(result: Any, kind: type[ast.AST]) -> Any:
    # RestrictedPython may refuse a node (None) or replace it; only a node of the kind it was
    # given gets that kind's meter rewrite.
    return _METER_REWRITES[kind](result) if isinstance(result, kind) else result
