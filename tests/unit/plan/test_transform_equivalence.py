"""The single-pass RestrictedPython + meter rewrite builds exactly the two-pass tree.

`MeteredPlanTransformer` (fast dispatch, RestrictedPython's visitors with a pruned location
helper, meter rewrite folded in) must give the same tree, positions included, and the same
diagnostics as RestrictedPython's stock traversal followed by `BudgetTransformer`, the meter
rewrite as a pass of its own. This is what re-verifies `agentflow/plan/traversal.py` against a
new RestrictedPython release.
"""

from __future__ import annotations

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from RestrictedPython.transformer import RestrictingNodeTransformer

from agentflow.plan.rewrite import MeteredPlanTransformer, PlanTransformer, Violation, meter_rewrite
from tests.unit.plan.test_escapes import COMPILE_TIME, RUN_TIME
from tests.unit.plan.test_fuzz import VALID, mutated_plan
from tests.unit.plan.test_rules import FAILING, PASSING


class _StockTransformer(RestrictingNodeTransformer):
    """RestrictedPython's own traversal, reporting like `PlanTransformer`."""

    def __init__(self) -> None:
        super().__init__()
        self.diagnostics: list[Violation] = []

    error = PlanTransformer.error
    warn = PlanTransformer.warn


class BudgetTransformer(ast.NodeTransformer):
    """The meter rewrite as a second pass of its own: each node once its children are final."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        return meter_rewrite(node)


EVERY_REWRITE = '''"""Exercises every rewrite of RestrictedPython and of the meter."""
import json
from math import floor as fl

A, (B, C) = 1, (2, 3)
X = Y = [1, 2]


def helper(a, b=2, *args, k=1, **kw):
    total = 0
    for i, (j, k2) in enumerate(zip(a, b)):
        total += i * j ** 2 << 1
        total = total + (i % 3) + "%s" % (j,) + 1
    while total > 0:
        total -= 1
        if total % 2:
            continue
    d = {}
    d[a] = b
    del d[a]
    event.x = 1
    del event.y
    f = lambda p, q=1: p + q * 2
    g = [v * 2 for v, w in d.items() if v]
    h = {v: w for v, w in d.items()}
    s = {v for v in a}
    gen = (v for v in a)
    print("x", f(1), sep="")
    m = helper(*args, **kw)
    n = a[1:2] + a[::2] + a[1, 2:3]
    if (z := len(a)) > 1:
        pass
    with open(a) as (r, t):
        pass
    try:
        pass
    except (KeyError, ValueError) as exc:
        raise
    nested = f"{a!r:>{b}} {total:.2f} {f'{a}'}"
    return printed, -a, not b, ~total, a @ b, a if b else total, nested


async def co():
    await x


class K(metaclass=type):
    def method(self):
        return self._hidden


def run(event, step):
    def inner(n):
        return inner(n - 1) if n else 0
    yield 1
    global G
    return [(yield) for _ in ()], inner(3), __import__("os")
'''

CORPUS = [
    EVERY_REWRITE,
    VALID,
    *COMPILE_TIME.values(),
    *(case[0] for case in RUN_TIME.values()),
    *(case[1] for case in FAILING),
    *(case[1] for case in PASSING),
]


def _two_pass(tree: ast.Module) -> list[Violation]:
    stock = _StockTransformer()
    stock.visit(tree)
    BudgetTransformer().visit(tree)
    return stock.diagnostics


def _one_pass(tree: ast.Module) -> list[Violation]:
    fused = MeteredPlanTransformer()
    fused.visit(tree)
    return fused.diagnostics


def _assert_same(source: str) -> None:
    try:
        reference = ast.parse(source)
        fast = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return
    try:
        expected = _two_pass(reference)
    except RecursionError:
        return
    assert _one_pass(fast) == expected
    assert ast.dump(fast, include_attributes=True) == ast.dump(reference, include_attributes=True)


@pytest.mark.parametrize("source", CORPUS)
def test_one_pass_equals_restrictedpython_then_meter(source: str) -> None:
    _assert_same(source)


def test_the_corpus_exercises_the_rewrites() -> None:
    dumped = ast.dump(ast.parse(EVERY_REWRITE))
    tree = ast.parse(EVERY_REWRITE)
    diagnostics = _one_pass(tree)
    rewritten = ast.unparse(tree)
    for name in (
        "_getattr_",
        "_getitem_",
        "_getiter_",
        "_iter_unpack_sequence_",
        "_unpack_sequence_",
        "_write_",
        "_inplacevar_",
        "_apply_",
        "_print",
        "_tick_",
        "_enter_",
        "_leave_",
        "_op_pow_",
        "_op_lshift_",
        "_op_mul_",
        "_op_add_",
        "_op_mod_",
        "_fmt_",
    ):
        assert name in rewritten, name
    assert "_getattr_" not in dumped
    assert diagnostics  # async, class, yield, global, `_hidden`, `__import__`


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_plan())
def test_one_pass_equals_two_passes_on_mutated_plans(source: str) -> None:
    _assert_same(source)
