"""OpenTelemetry: one trace per run, across a sleep and two workers, with a span per step."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentflow import telemetry
from agentflow.testing import ScriptedModel, skip_time
from tests.support.host import make_engine

SLEEPER = '''"""Fetch, sleep a day, fetch again."""

def run(event, step):
    before = step.do("fetch", tools.list_orders, status="open")
    step.sleep("a day", "1 day")
    after = step.do("fetch again", tools.list_orders, status="open")
    return len(before) + len(after)
'''


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_tracer_provider(provider)
    try:
        yield exporter
    finally:
        telemetry.use_tracer_provider(None)
        provider.shutdown()


def test_a_run_that_sleeps_and_moves_to_another_worker_is_one_trace(spans, tmp_path, ledger):
    url = f"sqlite:///{tmp_path / 'traced.db'}"
    first = make_engine(url, isolation="inline")
    second = make_engine(url, isolation="inline")
    try:
        agent = first.agent("acme", tools=["list_orders"], review="auto")
        agent.submit_plan(SLEEPER)
        run = agent.start(run_id="traced-1")
        first.work()
        assert run.status().status == "sleeping"
        skip_time(first, "1 day")
        second.work()
        assert run.status().status == "complete"
    finally:
        first.close()
        second.close()

    finished = spans.get_finished_spans()
    activations = [s for s in finished if s.name == "agentflow.activation"]
    steps = [s for s in finished if s.name.startswith("agentflow.step ")]
    roots = [s for s in finished if s.name == "agentflow.run"]
    assert len(roots) == 1 and len(activations) == 2
    assert {s.attributes["agentflow.worker"] for s in activations} == {first.owner, second.owner}
    assert {s.attributes["agentflow.run_id"] for s in activations} == {"traced-1"}
    assert {s.attributes["agentflow.agent_id"] for s in activations} == {"acme"}
    assert [s.attributes["agentflow.status"] for s in activations] == ["sleeping", "complete"]
    assert sorted(s.name for s in steps) == [
        "agentflow.step a day",
        "agentflow.step fetch",
        "agentflow.step fetch again",
    ]
    traced = [s for s in finished if s.name != "agentflow.compile"]
    assert {s.context.trace_id for s in traced} == {roots[0].context.trace_id}
    for activation in activations:
        assert activation.parent.span_id == roots[0].context.span_id
    for step in steps:
        assert step.parent.span_id in {a.context.span_id for a in activations}


def test_planning_and_compiling_are_spans(spans, tmp_path):
    from agentflow import plan_and_run

    engine = make_engine(f"sqlite:///{tmp_path / 'planned.db'}", isolation="inline")
    try:
        engine.agent("acme", tools=["list_orders"], review="auto")
        reply = "```python\ndef run(event, step):\n    return 1\n```"
        result = plan_and_run("one", "acme", engine=engine, model=ScriptedModel([reply]), wait=True)
        assert result.status == "complete"
    finally:
        engine.close()
    names = [s.name for s in spans.get_finished_spans()]
    assert "agentflow.plan" in names and "agentflow.compile" in names
    planned = next(s for s in spans.get_finished_spans() if s.name == "agentflow.plan")
    assert planned.attributes["agentflow.agent_id"] == "acme"
    assert planned.attributes["agentflow.attempts"] == 1


def test_without_opentelemetry_runs_are_untraced_and_work(tmp_path):
    script = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"
        "from agentflow import telemetry\n"
        "from agentflow.testing import temporary_engine\n"
        "assert not telemetry.enabled()\n"
        "with temporary_engine(isolation='inline') as engine:\n"
        "    agent = engine.agent('a', review='auto')\n"
        "    agent.submit_plan('def run(event, step):\\n    return 1\\n')\n"
        "    run = agent.start()\n"
        "    assert run.result(timeout=20) == 1\n"
        "    assert engine.store.get_run(run.key).trace_context is None\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr


GLOBAL_PROVIDER = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from agentflow import telemetry

assert not telemetry.recording()
with telemetry.span("unseen") as quiet:
    assert quiet is None
assert telemetry.new_trace("unseen root") is None
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
assert telemetry.recording()
with telemetry.span("seen") as current:
    assert current.is_recording()
print(sorted(span.name for span in exporter.get_finished_spans()))
"""


def test_spans_are_skipped_until_a_provider_is_set_and_recorded_after():
    # A fresh process: OpenTelemetry's global provider can be set only once.
    done = subprocess.run(
        [sys.executable, "-c", GLOBAL_PROVIDER], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['seen']"
