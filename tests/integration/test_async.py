"""Async tools complete their steps, and the async twins of `start` and `result` work in a loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from agentflow import Engine, NonRetryableError, RunFailed
from agentflow.testing import temporary_engine

CALLS: list[str] = []


@pytest.fixture(params=["process", "inline"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    CALLS.clear()
    with temporary_engine(isolation=request.param) as engine:

        @engine.tool(side_effects=False)
        async def fetch(key: str, times: int = 1) -> dict:
            """Fetch a value, asynchronously."""
            await asyncio.sleep(0.01)
            CALLS.append(threading.current_thread().name)
            return {"key": key, "value": key * times}

        @engine.tool(side_effects=True)
        async def refuse(reason: str) -> dict:
            """Always refuse."""
            raise NonRetryableError(reason)

        yield engine


def start(engine: Engine, source: str, **params):
    agent = engine.agent("async", tools=["fetch", "refuse"], review="auto")
    return agent.start(params, plan=agent.submit_plan(source))


def test_an_async_tool_completes_a_step_and_is_not_called_again_on_replay(engine):
    run = start(
        engine,
        "def run(event, step):\n"
        "    got = step.do('fetch', tools.fetch, key='ab', times=2)\n"
        "    step.sleep('nap', 0.05)\n"
        "    return got\n",
    )
    assert run.result(timeout=30) == {"key": "ab", "value": "abab"}
    assert [s.status for s in run.status().steps] == ["complete", "complete"]
    assert len(CALLS) == 1, "the replay after the sleep returned the checkpoint"


def test_an_async_tool_runs_when_the_calling_thread_already_runs_an_event_loop(engine):
    if engine.isolation == "process":
        pytest.skip("sandboxed plans call tools from the worker's tool threads, which run no loop")
    run = start(engine, "def run(event, step):\n    return step.do('f', tools.fetch, key='x')\n")

    async def host() -> None:
        engine.work(until_idle=True)  # a sync call from inside a running loop

    asyncio.run(host())
    assert run.status().output == {"key": "x", "value": "x"}
    assert len(CALLS) == 1
    assert CALLS[0] != threading.main_thread().name, "not awaited on the host's running loop"


def test_an_async_tool_with_a_step_timeout_completes(engine):
    source = "def run(event, step):\n    return step.do('f', tools.fetch, key='t', timeout=5)\n"
    assert start(engine, source).result(timeout=30) == {"key": "t", "value": "t"}


def test_an_async_tools_errors_and_bad_arguments_fail_the_step(engine):
    refused = start(
        engine, "def run(event, step):\n    return step.do('no', tools.refuse, reason='nope')\n"
    )
    with pytest.raises(RunFailed, match="NonRetryableError: nope"):
        refused.result(timeout=30)
    bad = start(
        engine, "def run(event, step):\n    return step.do('f', tools.fetch, key='k', times='x')\n"
    )
    with pytest.raises(RunFailed, match="bad arguments for tool 'fetch'"):
        bad.result(timeout=30)


def test_start_async_and_result_async(engine):
    agent = engine.agent("async", tools=["fetch", "refuse"], review="auto")
    plan = agent.submit_plan(
        "def run(event, step):\n    return step.do('f', tools.fetch, key='a')\n"
    )

    async def host() -> object:
        run = await agent.start_async({"n": 1}, plan=plan, run_id="async-1")
        assert run.id == "async-1" and (await agent.start_async(run_id="async-1")) == run
        return await run.result_async(timeout=30)

    assert asyncio.run(host()) == {"key": "a", "value": "a"}
