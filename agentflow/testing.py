r"""Test helpers for code that uses agentflow: a scripted model and a throwaway engine.

Example:
    >>> from agentflow.testing import ScriptedModel, temporary_engine
    >>> from agentflow import plan_and_run
    >>> model = ScriptedModel(["```python\ndef run(event, step):\n    return 1\n```"])
    >>> with temporary_engine() as engine:
    ...     result = plan_and_run("return one", agent="a", engine=engine, model=model)
    >>> result.status
    'awaiting_review'
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentflow.errors import ScriptExhausted
from agentflow.planner.model import Message, ModelReply, estimate_tokens

if TYPE_CHECKING:
    from agentflow.engine import Engine


class ScriptedModel:
    """A model that answers with the given replies, in order, and records what it was sent.

    Pass it wherever a model name goes (`plan_and_run(..., model=ScriptedModel([...]))`). Usage is
    reported as tokens estimated from the text's length, at no cost.

    Args:
        replies: the replies, one per model call.
        name: the model name recorded on plan versions.

    Attributes:
        prompts: the messages of every call, in order.
    """

    def __init__(self, replies: Iterable[str], name: str = "scripted") -> None:
        self.replies = list(replies)
        self.name = name
        self.prompts: list[list[Message]] = []

    def __repr__(self) -> str:
        return f"ScriptedModel({len(self.replies)} replies, {len(self.prompts)} used)"

    @property
    def calls(self) -> int:
        """How many times the model was asked."""
        return len(self.prompts)

    def complete(self, messages: list[Message]) -> ModelReply:
        """Return the next reply; raises ScriptExhausted when none is left."""
        if len(self.prompts) >= len(self.replies):
            raise ScriptExhausted(
                f"ScriptedModel was asked {len(self.prompts) + 1} times but has only "
                f"{len(self.replies)} repl{'y' if len(self.replies) == 1 else 'ies'}: "
                "give it one more reply per expected model call"
            )
        self.prompts.append([dict(m) for m in messages])
        text = self.replies[len(self.prompts) - 1]
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        return ModelReply(text, self.name, prompt_tokens, estimate_tokens(text), 0.0, 0.0)

    async def acomplete(self, messages: list[Message]) -> ModelReply:
        """The same as `complete`."""
        return self.complete(messages)


@contextmanager
def temporary_engine(**options: Any) -> Iterator[Engine]:
    """An `Engine` on a SQLite file in a temporary directory, closed and deleted on exit.

    Args:
        **options: passed to `Engine` (`limits`, `lease_seconds`, `poll_interval`).
    """
    from agentflow.engine import Engine

    with tempfile.TemporaryDirectory(prefix="agentflow-") as folder:
        engine = Engine(f"sqlite:///{Path(folder) / 'agentflow.db'}", **options)
        try:
            yield engine
        finally:
            engine.close()


def skip_time(engine: Engine, duration: Any = None, *, run: Any = None) -> float:
    """Skip time for suspended runs, as a fake clock would: their timers come due sooner.

    Every pending sleep, retry delay and wait timeout (of one `run`, or of all runs) is brought
    `duration` closer; with no duration, time skips to the earliest pending timer. The runs
    then resume at the next `engine.work()` or `run.result()`.

    Args:
        engine: the engine whose store holds the runs.
        duration: how much time to skip: seconds, `"1 day"`, a timedelta; None for "next timer".
        run: only this run's timers (a `Run`, or a run's store-wide key).

    Returns:
        The seconds skipped (0.0 when nothing was pending).

    Example:
        >>> run = agent.start()          # doctest: +SKIP
        >>> engine.work()                # the plan sleeps "1 day"
        >>> skip_time(engine, "1 day")
        >>> engine.work()                # ... and goes on at once
    """
    import time

    from agentflow.durations import parse_duration

    run_id = getattr(run, "key", run)
    if duration is None:
        due = engine.store.next_timer(run_id)
        if due is None:
            return 0.0
        seconds = max(0.0, due - time.time())
    else:
        seconds = parse_duration(duration)
    if seconds > 0:
        engine.store.shift_timers(seconds, run_id)
    engine.notify()
    return seconds


__all__ = ["ScriptExhausted", "ScriptedModel", "skip_time", "temporary_engine"]
