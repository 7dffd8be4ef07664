"""The shaping behind the review pages: durations, diffs and the step timeline."""

from __future__ import annotations

from datetime import UTC, datetime

from agentflow.review import views
from agentflow.runtime import StepStatus


def step(key: str, parent: str | None = None) -> StepStatus:
    return StepStatus(
        key=key, name=key, occurrence=0, kind="do", status="complete", attempts=1, parent=parent
    )


def test_durations_read_as_words():
    assert views.seconds(None) == "-"
    assert views.seconds(86400) == "1 day"
    assert views.seconds(3 * 86400) == "3 days"
    assert views.seconds(5400) == "1.5 hours"
    assert views.seconds(30) == "30 seconds"
    assert views.seconds(0) == "0 seconds"
    assert views.seconds(0.25) == "0.25 seconds"


def test_timestamps_from_datetimes_and_epochs():
    assert views.when(None) == "-"
    assert views.when(0.0) == "1970-01-01 00:00:00 UTC"
    assert views.when(datetime(2024, 5, 1, 12, tzinfo=UTC)) == "2024-05-01 12:00:00 UTC"


def test_short_keeps_one_bounded_line():
    assert views.short("a\n  b") == "a b"
    assert views.short({"k": [1, 2]}) == '{"k": [1, 2]}'
    assert views.short("x" * 100, 10) == "x" * 9 + "…"


def test_diff_lines_are_tagged():
    diff = "--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n same\n"
    assert [line.kind for line in views.diff_lines(diff)] == [
        "file",
        "file",
        "hunk",
        "remove",
        "add",
        "context",
    ]


def test_timeline_puts_children_under_their_group_in_order():
    steps = [
        step("a"),
        step("g"),
        step("g[0]", "g"),
        step("b"),
        step("g[1]", "g"),
        step("g[1][0]", "g[1]"),
        step("orphan", "gone"),
    ]
    entries = [(e.step.key, e.number, e.depth) for e in views.timeline(steps)]
    assert entries == [
        ("a", 1, 0),
        ("g", 2, 0),
        ("g[0]", None, 1),
        ("g[1]", None, 1),
        ("g[1][0]", None, 2),
        ("b", 3, 0),
        ("orphan", 4, 0),
    ]


def test_summary_view_defaults_every_key():
    view = views.summary_view({})
    assert view["risk"] == "unknown" and view["steps"] == [] and view["waits"] == []
