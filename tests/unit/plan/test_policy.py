"""A `PlanPolicy` narrows the plan language: the compiler, the running plan and the rules agree."""

from __future__ import annotations

import pytest

from agentflow.errors import PlanValidationError
from agentflow.plan import DEFAULT_POLICY, PlanLimits, PlanPolicy, compile_plan, plan_rules
from agentflow.plan.budget import Meter
from agentflow.plan.namespace import build_namespace
from agentflow.plan.policy import SAFE_BUILTINS

NO_JSON = PlanPolicy(modules=("math", "datetime"))
NO_SORTED = PlanPolicy(builtins=tuple(b for b in SAFE_BUILTINS if b != "sorted"))
NO_KEY_ERROR = PlanPolicy(exceptions=("Exception", "ValueError"))


def codes(source: str, policy: PlanPolicy) -> list[str]:
    with pytest.raises(PlanValidationError) as info:
        compile_plan(source, policy=policy)
    return [d.code for d in info.value.diagnostics]


def test_the_default_policy_is_the_whole_plan_language() -> None:
    assert PlanPolicy() == DEFAULT_POLICY
    assert plan_rules() == plan_rules(DEFAULT_POLICY)
    source = "import json\n\ndef run(event, step):\n    return sorted(json.loads('[2, 1]'))\n"
    assert compile_plan(source).policy == DEFAULT_POLICY


def test_a_module_left_out_cannot_be_imported() -> None:
    source = "import json\n\ndef run(event, step):\n    return json.dumps(1)\n"
    assert "AF130" in codes(source, NO_JSON)
    source = "from json import dumps\n\ndef run(event, step):\n    return dumps(1)\n"
    assert "AF130" in codes(source, NO_JSON)
    assert compile_plan("import math\n\ndef run(event, step):\n    return 1\n", policy=NO_JSON)


def test_a_builtin_left_out_is_not_defined() -> None:
    assert "AF125" in codes("def run(event, step):\n    return sorted([2, 1])\n", NO_SORTED)


def test_an_exception_left_out_cannot_be_caught() -> None:
    source = "def run(event, step):\n    try:\n        pass\n    except KeyError:\n        pass\n"
    assert "AF144" in codes(source, NO_KEY_ERROR)


def test_the_running_plan_gets_only_what_its_policy_allows() -> None:
    plan = compile_plan("def run(event, step):\n    return max([2, 1])\n", policy=NO_SORTED)
    assert plan.policy == NO_SORTED and plan.execute(None, object(), {}) == 2
    namespace = build_namespace(Meter(PlanLimits(), "<plan>"), object(), {}, None, NO_JSON)
    builtins = namespace["__builtins__"]
    assert "sorted" in builtins and "range" in builtins
    with pytest.raises(ImportError, match="'json' is not available"):
        builtins["__import__"]("json")
    narrowed = build_namespace(Meter(PlanLimits(), "<plan>"), object(), {}, None, NO_SORTED)
    assert "sorted" not in narrowed["__builtins__"] and "max" in narrowed["__builtins__"]


def test_the_rules_state_the_policy() -> None:
    rules = "\n".join(plan_rules(NO_JSON))
    assert "`math`, `datetime`" in rules and "`json`" not in rules
    assert " sorted," not in "\n".join(plan_rules(NO_SORTED))


@pytest.mark.parametrize(
    "policy",
    [
        {"builtins": ("eval",)},
        {"exceptions": ("BaseException",)},
        {"modules": ("os",)},
    ],
)
def test_a_policy_cannot_widen_the_language(policy: dict[str, tuple[str, ...]]) -> None:
    with pytest.raises(ValueError, match="may only narrow the plan language"):
        PlanPolicy(**policy)
