"""The reviewer's summary: steps, waits, tools, side effects in loops, risk."""

from __future__ import annotations

import json

from tests.unit.plan.conftest import compiled

R = "def run(event, step):\n"


def test_steps_are_listed_in_source_order_with_details() -> None:
    plan = compiled(
        '"""Doc line."""\nimport json\n' + R + "    orders = step.do('fetch', tools.list_orders)\n"
        "    step.sleep('nap', '2 hours')\n"
        "    step.sleep_until('later', '2030-01-01T09:00:00Z')\n"
        "    ev = step.wait_for_event('ok', type='approval')\n"
        "    step.parallel('both', {'a': tools.list_orders, 'b': lambda: tools.refund(1)})\n"
        "    t = step.now()\n"
        "    return json.dumps(orders)\n"
    )
    s = plan.summary
    assert s.docstring == "Doc line."
    assert [(x.kind, x.name, x.line) for x in s.steps] == [
        ("do", "fetch", 4),
        ("sleep", "nap", 5),
        ("sleep_until", "later", 6),
        ("wait_for_event", "ok", 7),
        ("parallel", "both", 8),
        ("now", None, 9),
    ]
    assert s.steps[0].tool == "list_orders" and s.steps[0].side_effects is False
    assert s.steps[1].duration_seconds == 7200
    assert s.steps[2].until == "2030-01-01T09:00:00+00:00"
    assert s.steps[3].event_type == "approval" and s.steps[3].timeout_seconds == 86400
    assert s.steps[4].tool == ["list_orders", "refund"] and s.steps[4].side_effects is True
    assert s.total_sleep_seconds == 7200 and s.event_types == ["approval"]
    assert s.imports == ["json"]
    assert {t.name: (t.side_effects, t.count) for t in s.tools_used} == {
        "list_orders": (False, 2),
        "refund": (True, 1),
    }
    json.dumps(s.model_dump(mode="json"))


def test_low_risk_when_nothing_has_side_effects() -> None:
    s = compiled(
        R + "    step.sleep('nap', 5)\n    return step.do('f', tools.list_orders)\n"
    ).summary
    assert s.risk == "low" and s.risk_reasons == ["no side-effecting steps"]


def test_medium_risk_for_side_effects_outside_loops() -> None:
    s = compiled(R + "    return step.do('r', tools.refund, 1)\n").summary
    assert s.risk == "medium" and "refund" in s.risk_reasons[0]
    assert s.side_effects_in_loops == []


def test_high_risk_for_side_effects_in_loops_and_maps() -> None:
    s = compiled(
        R + "    for o in [1, 2]:\n        step.do('r', tools.refund, o)\n"
        "    step.map('m', tools.refund, [1, 2])\n"
    ).summary
    assert s.risk == "high"
    assert [(x.name, x.in_loop) for x in s.side_effects_in_loops] == [("r", True), ("m", False)]
    assert any("inside a loop" in r for r in s.risk_reasons)
    assert any("step.map" in r for r in s.risk_reasons)


def test_high_risk_for_many_retries_and_medium_for_dynamic_names_and_long_waits() -> None:
    s = compiled(R + "    step.do('r', tools.refund, 1, retries={'limit': 50})\n").summary
    assert s.risk == "high" and any("retries" in r for r in s.risk_reasons)
    s = compiled(
        R + "    n = 'x'\n    step.wait_for_event(n, type='t', timeout='30 days')\n"
    ).summary
    assert s.risk == "medium"
    assert any("computed step names" in r for r in s.risk_reasons)
    assert any("30 days" in r for r in s.risk_reasons)


def test_unresolvable_step_function_is_assumed_to_have_side_effects() -> None:
    s = compiled(R + "    f = event['fn']\n    return step.do('x', f)\n").summary
    assert s.steps[0].side_effects is True and s.risk == "medium"
