"""The run page's waterfall: one bar per step, hatched suspensions, everything escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from agentflow.models import RunState, RunStatus, StepState, StepStatus
from agentflow.review.waterfall import waterfall_svg

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def _step(name: str, status: StepState, start: float, end: float | None, **extra) -> StepStatus:
    return StepStatus(
        key=f"{name}#0",
        name=name,
        occurrence=0,
        kind=extra.pop("kind", "do"),
        status=status,
        attempts=extra.pop("attempts", 1),
        started_at=T0 + timedelta(seconds=start),
        ended_at=None if end is None else T0 + timedelta(seconds=end),
        **extra,
    )


def _run(*steps: StepStatus) -> RunStatus:
    return RunStatus(
        id="r1",
        agent_id="a",
        plan_id=1,
        status=RunState.SLEEPING,
        created_at=T0,
        updated_at=T0,
        steps=list(steps),
    )


def test_each_step_is_a_bar_and_a_sleep_is_hatched_to_its_wake_up():
    status = _run(
        _step("fetch", StepState.COMPLETE, 0, 1),
        _step("flaky", StepState.COMPLETE, 1, 3, attempts=3),
        _step(
            "nap",
            StepState.SLEEPING,
            3,
            None,
            kind="sleep",
            wake_at=T0 + timedelta(days=3),
        ),
    )
    svg = waterfall_svg(status, now=(T0 + timedelta(seconds=4)).timestamp())
    root = ET.fromstring(svg)  # well-formed XML
    groups = root.findall(f"{SVG}g")
    assert [g.find(f"{SVG}title").text.split(" ")[0] for g in groups] == ["fetch", "flaky", "nap"]
    assert "×3" in svg and "3 attempts" in svg
    assert [len(g.findall(f"{SVG}rect")) for g in groups] == [1, 1, 2]  # the sleep is hatched
    assert "+3.0d" in svg  # the axis spans the sleep
    assert "wf-complete" in svg and "wf-suspended" in svg


def test_attacker_text_stays_text():
    hostile = '<script>alert(1)</script>"&'
    status = _run(
        _step(
            hostile,
            StepState.FAILED,
            0,
            1,
            error={"type": "X", "message": "<img src=x onerror=alert(2)>"},
        )
    )
    svg = waterfall_svg(status, now=T0.timestamp() + 2)
    assert "<script>" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg
    ET.fromstring(svg)


def test_no_steps_no_picture():
    assert waterfall_svg(_run()) == ""
