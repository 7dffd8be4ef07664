"""Copies kept by plan code are charged to the allocation budget, whatever builds them."""

from __future__ import annotations

import time

import pytest

from agentflow.errors import PlanBudgetExceeded
from tests.unit.plan.conftest import run_plan

HOARDERS = {
    "list() copies": "x = list(range(1000000))\n    keep = [list(x) for _ in range(2000)]",
    "tuple() copies": "x = list(range(1000000))\n    keep = [tuple(x) for _ in range(2000)]",
    "set() copies": "x = list(range(1000000))\n    keep = [set(x) for _ in range(2000)]",
    "sorted() copies": "x = list(range(1000000))\n    keep = []\n    for _ in range(2000):\n"
    "        keep.append(sorted(x))",
    "dict() copies": "x = dict.fromkeys(range(1000000))\n    keep = [dict(x) for _ in range(500)]",
    "dict.fromkeys copies": "x = list(range(1000000))\n"
    "    keep = [dict.fromkeys(x) for _ in range(500)]",
    "list.copy": "x = list(range(1000000))\n    keep = [x.copy() for _ in range(2000)]",
    "str methods": 's = "a" * 1000000\n    keep = [s.upper() for _ in range(2000)]',
    "str.split": 's = "a," * 400000\n    keep = [s.split(",") for _ in range(2000)]',
    "str() of a structure": "x = list(range(1000000))\n    keep = [str(x) for _ in range(2000)]",
    "json.loads": "t = json.dumps(list(range(100000)))\n"
    "    keep = [json.loads(t) for _ in range(2000)]",
}


@pytest.mark.parametrize("body", HOARDERS.values(), ids=HOARDERS.keys())
def test_hoarding_copies_stops_within_the_budget(body):
    source = f"import json\n\n\ndef run(event, step):\n    {body}\n    return len(keep)\n"
    started = time.monotonic()
    with pytest.raises(PlanBudgetExceeded, match=r"max_allocated_items|max_sequence_length"):
        run_plan(source)
    assert time.monotonic() - started < 10


def test_builtin_types_still_behave_as_types():
    source = """
    def run(event, step):
        return [
            isinstance([], list),
            isinstance("a", (int, str)),
            isinstance({}, list),
            len(dict.fromkeys(["a", "b"])),
            sorted([3, 1, 2]),
            str(5) + "!",
            list("ab"),
            tuple([1]),
            "a-b".split("-"),
            " x ".strip(),
        ]
    """
    assert run_plan(source) == [
        True,
        True,
        False,
        2,
        [1, 2, 3],
        "5!",
        ["a", "b"],
        (1,),
        ["a", "b"],
        "x",
    ]
