"""load_plan's cache: keyed by source and catalogue, bounded, never caching failures."""

from __future__ import annotations

import pytest

from agentflow.errors import PlanValidationError
from agentflow.plan import PlanCache, ToolSpec, load_plan
from tests.unit.plan.conftest import TOOLS, refund

SOURCE = "def run(event, step):\n    return step.do('r', tools.refund, 1)\n"


def test_same_source_and_tools_give_the_same_object() -> None:
    assert load_plan(SOURCE, TOOLS) is load_plan(SOURCE, dict(TOOLS))


def test_different_catalogue_recompiles() -> None:
    first = load_plan(SOURCE, TOOLS)

    def refund2(order_id: int, reason: str = "") -> dict:
        return {}

    assert load_plan(SOURCE, {**TOOLS, "refund": refund2}) is not first
    spec = ToolSpec.from_callable("refund", refund)
    readonly = ToolSpec(name="refund", signature=spec.signature, doc="", side_effects=False)
    other = load_plan(SOURCE, {"refund": readonly})
    assert other is not first and other.summary.risk == "low"


def test_cache_is_bounded_and_failures_are_not_cached() -> None:
    cache = PlanCache(size=3)
    for n in range(5):
        cache.load(SOURCE + f"# {n}\n", TOOLS)
    assert len(cache) == 3
    bad = "def run(event, step):\n    return tools.nope\n"
    for _ in range(2):
        with pytest.raises(PlanValidationError):
            cache.load(bad, TOOLS)
    assert len(cache) == 3


def test_from_callable_reads_side_effects_flag_and_doc() -> None:
    spec = ToolSpec.from_callable("list_orders", TOOLS["list_orders"])
    assert spec.side_effects is False and spec.doc == "List orders."
    assert ToolSpec.from_callable("refund", refund).side_effects is True
