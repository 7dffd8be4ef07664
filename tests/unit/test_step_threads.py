"""Step threads: reused between calls, and a call that overruns keeps its thread to itself."""

from __future__ import annotations

import threading

import pytest

from agentflow.runtime.step_threads import StepThreads


def test_a_finished_call_gives_its_thread_back_for_the_next() -> None:
    threads = StepThreads()
    seen: list[threading.Thread] = []
    for _ in range(3):
        call = threads.start(lambda: seen.append(threading.current_thread()) or 7)
        assert call.ended.wait(5)
        assert call.value == 7
    assert len(set(seen)) == 1
    assert seen[0] is not threading.current_thread()


def test_an_exception_is_kept_for_the_caller() -> None:
    call = StepThreads().start(lambda: 1 / 0)
    assert call.ended.wait(5)
    assert isinstance(call.error, ZeroDivisionError)


def test_a_call_still_running_makes_the_next_one_use_another_thread() -> None:
    threads = StepThreads()
    release = threading.Event()
    slow = threads.start(lambda: release.wait(10) and threading.current_thread())
    assert not slow.ended.wait(0.05)
    quick = threads.start(threading.current_thread)
    assert quick.ended.wait(5)
    release.set()
    assert slow.ended.wait(5)
    assert quick.value is not slow.value


@pytest.mark.parametrize("kept", [0, 1])
def test_no_more_idle_threads_are_kept_than_asked(kept: int) -> None:
    threads = StepThreads(idle_kept=kept)
    release = threading.Event()
    calls = [threads.start(lambda: release.wait(10)) for _ in range(3)]
    release.set()
    assert all(call.ended.wait(5) for call in calls)
    assert len(threads._idle) <= kept
