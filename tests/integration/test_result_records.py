"""A sandbox's last held-back records ride with its result: written with the settlement."""

from __future__ import annotations

import time

import pytest

from tests.support.host import make_engine

SLEEP_THEN_RETURN = """
def run(event, step):
    step.sleep_until("nap", event.params["at"])
    return event.params["n"]
"""


def test_a_sleep_that_ends_a_run_is_written_with_its_settlement(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'ends.db'}", isolation="process")
    agent = engine.agent("sleeper", review="auto")
    agent.submit_plan(SLEEP_THEN_RETURN)
    run = agent.start(params={"at": time.time() + 3600, "n": 7})
    engine.work()
    engine.store.shift_timers(3600)
    engine.work()
    status = run.status()
    assert status.status == "complete"
    assert status.output == 7
    assert [(s.name, s.status) for s in status.steps] == [("nap", "complete")]
    # The sleep's end is in the settlement's transaction: its history entry comes right after
    # the wake-up's, with the run's completion.
    kinds = [entry.kind for entry in run.history()]
    assert kinds[-2:] == ["woken", "completed"] or kinds[-3:] == ["woken", "step", "completed"]
    engine.close()


@pytest.mark.parametrize("isolation", ["process", "inline"])
def test_a_pause_asked_in_the_last_tool_stops_the_run_before_its_held_records(tmp_path, isolation):
    # The nap's end is held back to the result, behind the tool's deferred checkpoint, whose
    # write reads back the pause: as inline, the run pauses and the nap is not stored.
    engine = make_engine(f"sqlite:///{tmp_path / 'pause.db'}", isolation=isolation)

    @engine.tool(side_effects=False)
    def pause_me(run_id: str) -> str:
        engine.get_run(run_id).pause()
        return "asked"

    agent = engine.agent("pauser", tools=["pause_me"], review="auto")
    agent.submit_plan(
        "def run(event, step):\n"
        '    step.do("ask", tools.pause_me, event.params["me"])\n'
        '    step.sleep("nap", 0)\n'
        "    return 1\n"
    )
    run = agent.start(params={"me": "p1"}, run_id="p1")
    engine.work()
    status = run.status()
    assert status.status == "complete"
    assert [(s.name, s.status) for s in status.steps] == [
        ("ask", "complete"),
        ("nap", "complete"),
    ]
    assert run.result(timeout=10) == 1
    engine.close()
