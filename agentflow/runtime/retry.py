"""Retry policies of `step.do`: how many retries, how long between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agentflow.durations import parse_duration
from agentflow.plan.policy import BACKOFF_STRATEGIES, MAX_RETRIES

#: The longest wait between two attempts, however the back-off grows.
MAX_RETRY_DELAY = 86400.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`{"limit": 5, "delay": "10 seconds", "backoff": "exponential"}`, Cloudflare's defaults.

    `limit` counts retries, so a step runs at most `limit + 1` times. `delay` may be given as
    a duration (`"10 seconds"`, a `timedelta`); it is kept in seconds. A plain record, not a
    pydantic model: sandbox processes build one for each `step.do`.

    Raises:
        ValueError: a field is out of range or of the wrong kind.
    """

    limit: int = 5
    delay: float = 10.0
    backoff: Literal["constant", "linear", "exponential"] = "exponential"

    def __post_init__(self) -> None:
        limit: object = self.limit
        if isinstance(limit, float) and limit.is_integer():
            limit = int(limit)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise ValueError(f"retries limit must be a whole number, not {limit!r}")
        if limit < 0:
            raise ValueError("retries limit cannot be negative")
        if limit > MAX_RETRIES:
            raise ValueError(f"retries limit can be at most {MAX_RETRIES}, not {limit}")
        if self.backoff not in BACKOFF_STRATEGIES:
            raise ValueError(
                f"backoff must be one of {', '.join(BACKOFF_STRATEGIES)}, not {self.backoff!r}"
            )
        object.__setattr__(self, "limit", limit)
        object.__setattr__(self, "delay", parse_duration(self.delay))

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt + 1`, after `attempt` failures."""
        if self.backoff == "constant":
            delay = self.delay
        elif self.backoff == "linear":
            delay = self.delay * attempt
        else:
            delay = self.delay * (2.0 ** min(attempt - 1, 64))
        return min(delay, MAX_RETRY_DELAY)

    @classmethod
    def parse(cls, value: Any, step: str) -> RetryPolicy:
        """Read a plan's `retries=` argument, with an error that names the step."""
        if value is None:
            return DEFAULT_RETRY_POLICY
        if isinstance(value, RetryPolicy):
            return value
        try:
            return cls(**dict(value))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"step {step!r}: retries must look like "
                f'{{"limit": 3, "delay": "10 seconds", "backoff": "exponential"}}: {exc}'
            ) from None


DEFAULT_RETRY_POLICY = RetryPolicy()
"""The policy of a step without `retries=` (frozen, so one instance serves every step)."""
