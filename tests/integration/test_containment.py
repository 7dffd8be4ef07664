"""The containment corpus: each class of attack a security review found, through the public API.

Every case must be contained: refused by the compiler, or its run fails with a clear error,
while the same worker goes on to complete another tenant's run. None reaches the host's
classes, files, environment or store.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentflow import PlanValidationError, RuntimeLimits
from agentflow.models import RunEvent
from tests.support.host import make_engine, read_ledger

BENIGN = """
def run(event, step):
    orders = step.do("fetch", tools.list_orders, status="open")
    return {"orders": len(orders)}
"""


@dataclass(frozen=True)
class Case:
    """A hostile plan and what containing it looks like."""

    id: str
    source: str
    expect: str  # "rejected", "errored" or "complete"
    says: str = ""  # text the diagnostic or the run's error message must contain
    events: tuple[tuple[str, object], ...] = ()


CASES = [
    Case(
        "pydantic parse_raw on event",
        """
def run(event, step):
    return event.parse_raw('"x"', proto="pickle")
""",
        "errored",
        "no attribute 'parse_raw'",
    ),
    Case(
        "pydantic parse_file on a received event",
        """
def run(event, step):
    answer = step.wait_for_event("answer", type="reply", timeout="1 hour")
    return answer.parse_file("/etc/passwd")
""",
        "errored",
        "no attribute 'parse_file'",
        events=(("reply", {"ok": True}),),
    ),
    Case(
        "host class state through model_fields",
        """
def run(event, step):
    fields = event.model_fields
    fields["params"] = None
    return "changed"
""",
        "errored",
        "no attribute 'model_fields'",
    ),
    Case(
        "model_config write",
        """
def run(event, step):
    event.model_config["frozen"] = False
    return "changed"
""",
        "errored",
        "no attribute 'model_config'",
    ),
    Case(
        "event attribute write",
        """
def run(event, step):
    event.run_id = "another tenant's run"
    return event.run_id
""",
        "errored",
        "may only assign into dicts and lists",
    ),
    Case(
        "dunder class walk",
        """
def run(event, step):
    return event.params.__class__.__subclasses__()
""",
        "rejected",
        "attributes starting with '_' are not accessible",
    ),
    Case(
        "exception attributes",
        """
def run(event, step):
    try:
        step.do("fail", tools.refund, order_id="not a number")
    except StepFailed as failure:
        return failure.with_traceback(None)
""",
        "errored",
        "no attribute 'with_traceback'",
    ),
    Case(
        "lone surrogate in print",
        """
def run(event, step):
    print("bad \\udc80 text")
    return "printed"
""",
        "complete",
    ),
    Case(
        "lone surrogate in the output",
        """
def run(event, step):
    return {"text": "bad \\ud800"}
""",
        "errored",
        "not valid UTF-8",
    ),
    Case(
        "lone surrogate in a step name",
        """
def run(event, step):
    step.do(f"step \\ud800", tools.list_orders)
    return "ok"
""",
        "errored",
        "not valid UTF-8",
    ),
    Case(
        "nesting deeper than readers can read",
        """
def run(event, step):
    value = []
    for _ in range(300):
        value = [value]
    return value
""",
        "errored",
        "nested deeper than 100",
    ),
    Case(
        "self-similar output that renders to petabytes",
        """
def run(event, step):
    value = ["x"]
    for _ in range(60):
        value = [value, value]
    return value
""",
        "errored",
        "bytes of JSON",
    ),
    Case(
        "self-similar exception message",
        """
def run(event, step):
    value = ["x"]
    for _ in range(60):
        value = [value, value]
    raise ValueError(value)
""",
        "errored",
        "ValueError with a message of more than",
    ),
    Case(
        "print with a huge separator",
        """
def run(event, step):
    sep = "-" * 100000
    print("a", "b", "c", sep=sep)
    return "printed"
""",
        "errored",
        "sep and end are limited",
    ),
    Case(
        "sleep past the year 9999",
        """
def run(event, step):
    step.sleep_until("forever", "9999-12-31T23:59:59+00:00")
    return "woke"
""",
        "rejected",
        "between 1970 and the year 9000",
    ),
    Case(
        "sleep past the year 9999, computed",
        """
def run(event, step):
    step.sleep_until("forever", "9999-12-31T23:59:" + str(59))
    return "woke"
""",
        "errored",
        "between 1970 and the year 9000",
    ),
    Case(
        "sleep until an epoch past every calendar",
        """
def run(event, step):
    step.sleep_until("forever", 10 ** 15 + 0)
    return "woke"
""",
        "errored",
        "between 1970 and the year 9000",
    ),
    Case(
        "sleep of infinity",
        """
def run(event, step):
    step.sleep("forever", float("inf"))
    return "woke"
""",
        "errored",
        "at most 100 years",
    ),
    Case(
        "sleep of NaN",
        """
def run(event, step):
    step.sleep("never", float("nan"))
    return "woke"
""",
        "errored",
        "a duration must be a number",
    ),
    Case(
        "wait with an endless timeout",
        """
def run(event, step):
    step.wait_for_event("forever", type="x", timeout=float("1e300"))
    return "woke"
""",
        "errored",
        "at most 100 years",
    ),
    Case(
        "uncapped retries, literal",
        """
def run(event, step):
    step.do("retry", tools.list_orders, retries={"limit": 1000000, "delay": 0})
    return "ok"
""",
        "rejected",
        "from 0 to 100",
    ),
    Case(
        "uncapped retries, computed",
        """
def run(event, step):
    limit = int("1" + "0" * 6)
    step.do("retry", tools.list_orders, retries={"limit": limit, "delay": 0})
    return "ok"
""",
        "errored",
        "at most 100",
    ),
    Case(
        "an event type that is not text",
        """
def run(event, step):
    step.wait_for_event("w", type="t" * 1000, timeout=1)
    return "ok"
""",
        "errored",
        "at most 256 characters",
    ),
]


@pytest.fixture(params=["process", "inline"])
def isolation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _engine(tmp_path: Path, isolation: str = "process", **options: object):
    return make_engine(f"sqlite:///{tmp_path / 'contain.db'}", isolation=isolation, **options)


def _drive(engine, runs, events: list[tuple[str, object]], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        engine.work()
        statuses = [run.status() for run in runs]
        if all(s.done for s in statuses):
            return
        for run, status in zip(runs, statuses, strict=True):
            if status.status == "waiting" and events:
                run.send_event(*events.pop(0))
        time.sleep(0.02)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_attack_is_contained_and_the_worker_serves_another_tenant(
    case: Case, tmp_path, isolation
):
    engine = _engine(tmp_path, isolation)
    attacker = engine.agent("mallory", tools=["list_orders", "refund"], review="auto")
    neighbour = engine.agent("alice", tools=["list_orders"], review="auto")
    if case.expect == "rejected":
        with pytest.raises(PlanValidationError) as refused:
            attacker.submit_plan(case.source)
        assert case.says in str(refused.value)
        engine.close()
        return
    plan = attacker.submit_plan(case.source)
    bad = attacker.start(plan=plan, run_id="bad")
    neighbour.submit_plan(BENIGN)
    good = neighbour.start(run_id="good")
    _drive(engine, [bad, good], list(case.events))

    status = bad.status()
    assert status.status == case.expect, status.error
    if case.says:
        assert case.says in (status.error or {}).get("message", ""), status.error
    assert good.status().status == "complete"
    assert good.result() == {"orders": 2}
    # Every reader still reads every run.
    json.dumps([r.status().model_dump(mode="json") for r in engine.runs()])
    assert RunEvent.model_fields["params"] is not None
    engine.close()


def test_the_summary_rates_attribute_probing_high_and_auto_if_safe_does_not_approve(tmp_path):
    engine = _engine(tmp_path)
    agent = engine.agent("probe", tools=["list_orders"], review="auto-if-safe")
    plan = agent.submit_plan(
        """
def run(event, step):
    return event.parse_raw("1")
"""
    )
    assert plan.summary.risk == "high"
    assert "parse_raw" in plan.summary.risk_reasons[0]
    assert plan.status == "pending"
    engine.close()


def test_repr_of_step_and_tools_shows_no_memory_address(tmp_path, isolation):
    engine = _engine(tmp_path, isolation)
    agent = engine.agent("reprs", tools=["list_orders"], review="auto")
    agent.submit_plan(
        """
def run(event, step):
    return [repr(step), repr(event), str(event), repr(step.do)]
"""
    )
    run = agent.start()
    engine.work()
    output = run.result(timeout=10)
    assert output is not None
    assert not any("0x" in text for text in output), output
    engine.close()


def test_a_surrogate_in_print_is_kept_escaped_in_the_log(tmp_path, isolation):
    engine = _engine(tmp_path, isolation)
    agent = engine.agent("printer", tools=["list_orders"], review="auto")
    agent.submit_plan('def run(event, step):\n    print("bad \\udc80 text")\n    return 1\n')
    run = agent.start()
    engine.work()
    assert run.result(timeout=10) == 1
    assert "bad \\udc80 text" in run.status().log
    engine.close()


def test_a_tool_that_never_returns_fails_its_step_after_the_default_timeout(
    tmp_path, ledger, isolation
):
    engine = _engine(tmp_path, isolation, limits=RuntimeLimits(default_step_timeout=0.3))
    agent = engine.agent("hang", tools=["slow"], review="auto")
    agent.submit_plan(
        """
def run(event, step):
    try:
        step.do("hang", tools.slow, label="x", seconds=3, retries={"limit": 0})
    except StepFailed as failure:
        return failure.error_type
"""
    )
    run = agent.start()
    started = time.monotonic()
    engine.work()
    assert run.result(timeout=10) == "StepTimeout"
    assert time.monotonic() - started < 2.5
    engine.close()


def test_a_timed_out_attempt_cannot_go_on_calling_tools(tmp_path, ledger, isolation):
    engine = _engine(tmp_path, isolation)
    agent = engine.agent("loop", tools=["list_orders"], review="auto")
    # The status marks this test's calls: a stray call from another test's engine in this
    # process must not count here.
    marker = f"spin-{isolation}"
    agent.submit_plan(
        f"""
def run(event, step):
    def forever():
        count = 0
        while True:
            tools.list_orders(status="{marker}")
            count = count + 1
    try:
        step.do("spin", forever, timeout=0.3, retries={{"limit": 0}})
    except StepFailed as failure:
        return failure.error_type
"""
    )

    def calls() -> list[float]:
        return [line["t"] for line in read_ledger(ledger) if line.get("status") == marker]

    run = agent.start()
    engine.work()
    assert run.result(timeout=10) == "StepTimeout"
    finished = time.time()
    # A call that began before the deadline may still finish; after that, none may start.
    seen = len(calls())
    settle_by = time.monotonic() + 3
    while time.monotonic() < settle_by:
        time.sleep(0.25)
        now = len(calls())
        if now == seen:
            break
        seen = now
    time.sleep(0.5)
    late = [round(t - finished, 3) for t in calls()[seen:]]
    assert not late, f"the timed-out attempt kept calling the tool, at {late} s after the run ended"
    engine.close()
