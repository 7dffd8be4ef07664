"""CompiledPlan.execute with a fake step object."""

from __future__ import annotations

import pytest

from agentflow.errors import NonRetryableError, ToolNotAllowed
from agentflow.plan import PlanLimits, plan_rules
from tests.unit.plan.conftest import TOOLS, FakeStep, compiled

R = "def run(event, step):\n"


def test_runs_the_design_example() -> None:
    plan = compiled(
        R + "    orders = step.do('fetch', tools.list_orders, status='open')\n"
        "    for order in orders:\n"
        "        step.do('remind', tools.send_email, to=order['email'], subject='Hi',\n"
        "                body=f\"Order {order['id']} is still open.\")\n"
        "    answer = step.wait_for_event('approval', type='refund-approval')\n"
        "    if answer['payload']['approved']:\n"
        "        step.do('refund', tools.refund, order_id=orders[0]['id'])\n"
        "    return {'reminded': len(orders)}\n"
    )
    fake = FakeStep()
    assert plan.execute({"params": {}}, fake, TOOLS) == {"reminded": 2}
    assert [name for _, name in fake.calls] == ["fetch", "remind", "remind", "approval", "refund"]


def test_plans_can_use_allowed_modules_helpers_and_exceptions() -> None:
    plan = compiled(
        "import math\nfrom statistics import mean\nimport datetime as dt\n"
        "def double(x):\n    return x * 2\n"
        + R
        + "    a, b = divmod(7, 2)\n    d = {}\n    d['k'] = [double(i) for i in range(3)]\n"
        "    n = 0\n    n += 5\n    when = dt.datetime(2030, 1, 1) + dt.timedelta(days=1)\n"
        "    try:\n        raise NonRetryableError('no')\n    except NonRetryableError as e:\n"
        "        msg = str(e)\n"
        "    return [a, b, d, n, math.sqrt(16), mean([1, 2, 3]), when.day, msg, 'x %s' % 1]\n"
    )
    result = plan.execute(None, FakeStep(), TOOLS)
    assert result == [3, 1, {"k": [0, 2, 4]}, 5, 4.0, 2, 2, "no", "x 1"]


def test_print_goes_to_the_sink_and_is_truncated() -> None:
    plan = compiled(
        R + "    for i in range(100):\n        print('line', i)\n",
        limits=PlanLimits(max_print_chars=30),
    )
    lines: list[str] = []
    plan.execute(None, FakeStep(), TOOLS, print_sink=lines.append)
    assert lines[0] == "line 0" and lines[-1] == "[output truncated]"
    assert sum(len(x) for x in lines[:-1]) <= 30 and lines.count("[output truncated]") == 1
    plan.execute(None, FakeStep(), TOOLS)  # no sink: output dropped


def test_errors_raised_by_plans_propagate() -> None:
    plan = compiled(R + "    raise NonRetryableError('stop')\n")
    with pytest.raises(NonRetryableError):
        plan.execute(None, FakeStep(), TOOLS)


def test_tools_object_exposes_exactly_the_given_callables() -> None:
    plan = compiled(R + "    return step.do('r', tools.refund, 7)\n")
    assert plan.execute(None, FakeStep(), TOOLS) == {"refunded": 7}
    with pytest.raises(ToolNotAllowed):
        plan.execute(None, FakeStep(), {"send_email": TOOLS["send_email"]})


def test_each_execution_has_fresh_globals() -> None:
    plan = compiled("SEEN = []\n" + R + "    SEEN.append(1)\n    return len(SEEN)\n")
    assert [plan.execute(None, FakeStep(), TOOLS) for _ in range(3)] == [1, 1, 1]


def test_plan_rules_come_from_the_policy() -> None:
    rules = "\n".join(plan_rules())
    assert "`math`" in rules and "step.wait_for_event" in rules and "NonRetryableError" in rules
    assert "exec" in rules and "finally" in rules
