"""What changed between two plan versions, from their summaries and syntax trees."""

from __future__ import annotations

from agentflow.plan.changes import call_changes, tool_calls, what_changed, words
from tests.unit.plan.conftest import compiled

BEFORE = '''"""Remind, wait, refund."""

def run(event, step):
    orders = step.do("fetch", tools.list_orders, status="open")
    step.sleep("grace", "1 day")
    answer = step.wait_for_event("manager", type="ok", timeout="2 days")
    step.do("refund", tools.refund, order_id=1)
    step.do("tell", tools.send_email, to="a@b.c", subject="done")
    return answer.payload
'''

AFTER = '''"""Refund first, then remind."""

def run(event, step):
    orders = step.do("fetch", tools.list_orders, status="open")
    step.do("tell", tools.send_email, to="a@b.c", subject="done")
    step.do("refund", tools.refund, order_id=1)
    step.sleep("grace", "3 days")
    step.sleep("pause", "1 hour")
    return orders
'''


def test_steps_added_removed_and_moved_tools_and_durations_are_listed_in_words():
    changes = what_changed(compiled(BEFORE).summary, compiled(AFTER).summary)
    assert "step 'pause' added (line 8)" in changes
    assert "step 'manager' removed" in changes
    moved = [c for c in changes if " moved:" in c]
    assert moved == [  # 'refund' keeps its place among the steps both versions have
        "step 'tell' moved: it was step 4 of those both versions have, now step 2",
        "step 'grace' moved: it was step 2 of those both versions have, now step 4",
    ]
    assert "sleep 'grace': duration changed from 1 day to 3 days" in changes


def test_tools_added_and_removed_name_their_side_effects():
    before = compiled('def run(event, step):\n    return step.do("a", tools.list_orders)\n')
    after = compiled('def run(event, step):\n    return step.do("a", tools.refund, order_id=2)\n')
    assert what_changed(before.summary, after.summary) == [
        "tool 'refund' added (side effects)",
        "tool 'list_orders' removed",
    ]


def test_the_same_plan_has_no_changes():
    assert what_changed(compiled(BEFORE).summary, compiled(BEFORE).summary) == []


def test_call_counts_multiply_through_literal_loops_and_are_unknown_through_others():
    source = """
def run(event, step):
    for a in range(3):
        for b in ["x", "y"]:
            step.do("r", tools.refund, order_id=7)
    for order in step.do("o", tools.list_orders):
        step.do("mail", tools.send_email, to=order["email"], subject="s")
    step.map("m", tools.list_orders, ["open"])
    return 1
"""
    calls = tool_calls(source)
    assert calls["refund"].count == 6 and calls["refund"].in_loop
    assert calls["refund"].literals == {"order_id": [7]}
    assert calls["send_email"].count is None
    assert calls["send_email"].literals["to"] == [...]
    assert calls["list_orders"].count is None and calls["list_orders"].sites == 2


def test_a_split_payment_is_flagged_with_the_count_the_amount_and_the_total():
    one = 'def run(event, step):\n    step.do("pay", tools.pay, amount=500, retries=2)\n'
    split = (
        "def run(event, step):\n"
        "    for part in range(5):\n"
        '        step.do("pay part", tools.pay, amount=100)\n'
    )
    reasons = call_changes(tool_calls(one), tool_calls(split), {"pay"})
    assert reasons == [
        "side-effecting tool 'pay' is called 5 times (in a loop) instead of once",
        "pay(amount=...) changed from 500 to 100: 5 x 100 = 500 in all, "
        "the same total as 500 before",
    ]
    assert call_changes(tool_calls(one), tool_calls(split), set()) == []  # reads are not flagged
    assert call_changes(tool_calls(one), tool_calls(one), {"pay"}) == []


def test_an_amount_decided_at_run_time_is_said_so():
    one = 'def run(event, step):\n    step.do("pay", tools.pay, amount=500)\n'
    computed = 'def run(event, step):\n    step.do("pay", tools.pay, amount=event.params["n"])\n'
    assert call_changes(tool_calls(one), tool_calls(computed), {"pay"}) == [
        "pay(amount=...) changed from 500 to (decided at run time)"
    ]


def test_durations_in_words():
    assert [words(None), words(1), words(90), words(86400 * 3)] == [
        "decided at run time",
        "1 second",
        "1.5 minutes",
        "3 days",
    ]
