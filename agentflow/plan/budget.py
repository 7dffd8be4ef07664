"""The compute budget: limits, the per-execution meter, and the AST rewrite that feeds it.

Every loop iteration and every call of a plan-defined function costs one tick; operations
that can build huge values (`**`, `<<`, `*`, `+` on sequences, `%` on strings, `range`, ...)
are routed through guards that estimate the result's size before computing it.
"""

from __future__ import annotations

import ast
import sys
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agentflow.errors import BudgetSignal
from agentflow.plan.policy import PlanTransformer


class PlanLimits(BaseModel):
    """Budget of one `CompiledPlan.execute` call; every field is configurable."""

    model_config = ConfigDict(frozen=True)

    max_ticks: int = Field(default=1_000_000, ge=1, description="loop iterations + function calls")
    max_sequence_length: int = Field(
        default=1_000_000,
        ge=1,
        description="length of a str/list/tuple/range built in one operation",
    )
    max_power_bits: int = Field(
        default=4096,
        ge=64,
        description="bits of an int built by **, << or * (estimated beforehand)",
    )
    max_print_chars: int = Field(default=65_536, ge=0, description="characters `print` may emit")
    max_call_depth: int = Field(
        default=100, ge=1, description="nesting of plan-defined function calls"
    )
    max_allocated_items: int = Field(
        default=20_000_000, ge=1, description="total items/characters built by guarded operations"
    )


class Meter:
    """Counts the work of one execution and stops it when a limit is crossed."""

    __slots__ = ("_alloc_left", "_depth", "_filename", "_ticks_left", "limits")

    def __init__(self, limits: PlanLimits, filename: str) -> None:
        self.limits = limits
        self._ticks_left = limits.max_ticks
        self._alloc_left = limits.max_allocated_items
        self._depth = 0
        self._filename = filename

    def tick(self) -> None:
        """Charge one loop iteration or call."""
        self._ticks_left -= 1
        if self._ticks_left < 0:
            self.exhausted(
                f"the plan ran more than max_ticks={self.limits.max_ticks} loop iterations and "
                "calls; make loops shorter or move the work into a tool"
            )

    def enter(self) -> None:
        """Charge a call of a plan-defined function and count its depth."""
        self.tick()
        self._depth += 1
        if self._depth > self.limits.max_call_depth:
            self._depth = 0  # sticky failure; `leave` calls that follow must not underflow
            self.exhausted(
                f"plan functions nested deeper than max_call_depth={self.limits.max_call_depth} "
                "(unbounded recursion?)"
            )

    def leave(self) -> None:
        """Pop one level of plan-function depth; never raises."""
        if self._depth > 0:
            self._depth -= 1

    def charge(self, size: int, what: str) -> None:
        """Charge an operation that builds `size` items, refusing it when it is too big."""
        if size > self.limits.max_sequence_length:
            self.exhausted(
                f"{what} would build {size} items, over max_sequence_length="
                f"{self.limits.max_sequence_length}"
            )
        self._alloc_left -= size
        if self._alloc_left < 0:
            self.exhausted(
                f"the plan built more than max_allocated_items="
                f"{self.limits.max_allocated_items} items in total ({what})"
            )

    def check_bits(self, bits: int, what: str) -> None:
        """Refuse an integer operation whose result would exceed `max_power_bits`."""
        if bits > self.limits.max_power_bits:
            self.exhausted(
                f"{what} would build an integer of about {bits} bits, over max_power_bits="
                f"{self.limits.max_power_bits}"
            )

    def exhausted(self, message: str) -> None:
        """Raise the uncatchable budget signal, naming the plan line that was running."""
        self._ticks_left = min(self._ticks_left, 0)
        line = self._plan_line()
        where = f" (plan line {line})" if line is not None else ""
        raise BudgetSignal(f"compute budget exceeded{where}: {message}", line)

    def _plan_line(self) -> int | None:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self._filename:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None


# Binary operators routed through size-estimating guards, by AST operator type.
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


class BudgetTransformer(ast.NodeTransformer):
    """Insert meter calls into a tree that RestrictedPython has already transformed.

    - `while` bodies start with `_tick_()` (`for` loops and comprehensions tick through the
      metered `_getiter_` that RestrictedPython already inserted);
    - plan `def` bodies become `_enter_(); try: <body> finally: _leave_()` (call depth);
    - lambdas become `lambda ...: _tick_() or <body>`;
    - `**`, `<<`, `*`, and `+`/`%` where a big sequence could result, become guard calls;
    - values interpolated into f-strings go through `_fmt_`, which bounds their rendered size.

    `MeteredPlanTransformer` does the same rewrite during RestrictedPython's own traversal;
    this separate pass is kept as its reference.
    """

    def visit_While(self, node: ast.While) -> ast.AST:
        self.generic_visit(node)
        return _meter_while(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        self.generic_visit(node)
        return _meter_function(node)

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        return _meter_lambda(node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        return _meter_binop(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        self.generic_visit(node)
        return _meter_formatted_value(node)


class MeteredPlanTransformer(PlanTransformer):
    """`PlanTransformer` followed by `BudgetTransformer`, in a single traversal.

    Each node is first transformed by RestrictedPython (children included, metered on the
    way), then gets the meter rewrite `BudgetTransformer` would give it, so the resulting
    tree is the same as with the two passes: RestrictedPython never creates the node types
    metered here, and the meter rewrite only looks at a node after its children are final.
    """

    def visit_While(self, node: ast.While) -> Any:
        result = super().visit_While(node)
        return _meter_while(result) if isinstance(result, ast.While) else result

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        result = super().visit_FunctionDef(node)
        return _meter_function(result) if isinstance(result, ast.FunctionDef) else result

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        result = super().visit_Lambda(node)
        return _meter_lambda(result) if isinstance(result, ast.Lambda) else result

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        result = super().visit_BinOp(node)
        return _meter_binop(result) if isinstance(result, ast.BinOp) else result

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        result = super().visit_FormattedValue(node)
        if isinstance(result, ast.FormattedValue):
            return _meter_formatted_value(result)
        return result
