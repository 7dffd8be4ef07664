"""`agentflow.testing.skip_time`: plans that sleep for days, tested in milliseconds."""

from __future__ import annotations

from agentflow.testing import skip_time

PLAN = """
def run(event, step):
    step.sleep("a day", "1 day")
    try:
        answer = step.wait_for_event("reply", type="reply", timeout="3 days")
    except WaitTimeout:
        return "no reply"
    return answer.payload
"""


def _agent(engine):
    agent = engine.agent("patient", tools=engine.tools.names(), review="auto")
    agent.submit_plan(PLAN)
    return agent


def test_skipping_a_day_ends_the_sleep_but_not_the_wait(engine):
    run = _agent(engine).start()
    engine.work()
    assert run.status().status == "sleeping"
    assert skip_time(engine, "1 day") == 86400
    engine.work()
    assert run.status().status == "waiting"
    skip_time(engine, "1 day")
    engine.work()
    assert run.status().status == "waiting", "two days of three have passed"
    run.send_event("reply", "thanks")
    assert run.result(timeout=10) == "thanks"


def test_skipping_to_the_next_timer_times_a_wait_out(engine):
    run = _agent(engine).start()
    engine.work()
    skip_time(engine, run=run)
    engine.work()
    assert run.status().status == "waiting"
    skipped = skip_time(engine)
    assert 3 * 86400 - 60 < skipped <= 3 * 86400
    assert run.result(timeout=10) == "no reply"


def test_skipping_one_run_leaves_the_others(engine):
    agent = _agent(engine)
    first, second = agent.start(), agent.start()
    engine.work()
    skip_time(engine, "1 day", run=first.id)
    engine.work()
    assert first.status().status == "waiting"
    assert second.status().status == "sleeping"
    assert skip_time(engine, run="no-such-run") == 0.0
