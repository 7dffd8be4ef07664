"""Retry policies of `step.do`: how many retries, how long between them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from agentflow.durations import parse_duration
from agentflow.plan.policy import MAX_RETRIES

#: The longest wait between two attempts, however the back-off grows.
MAX_RETRY_DELAY = 86400.0


class RetryPolicy(BaseModel):
    """`{"limit": 5, "delay": "10 seconds", "backoff": "exponential"}`, Cloudflare's defaults.

    `limit` counts retries, so a step runs at most `limit + 1` times.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int = 5
    delay: float = 10.0
    backoff: Literal["constant", "linear", "exponential"] = "exponential"

    @field_validator("delay", mode="before")
    @classmethod
    def _read_delay(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("limit")
    @classmethod
    def _check_limit(cls, value: int) -> int:
        if value < 0:
            raise ValueError("retries limit cannot be negative")
        if value > MAX_RETRIES:
            raise ValueError(f"retries limit can be at most {MAX_RETRIES}, not {value}")
        return value

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
            return cls()
        if isinstance(value, RetryPolicy):
            return value
        try:
            return cls.model_validate(dict(value))
        except (ValidationError, TypeError, ValueError) as exc:
            raise ValueError(
                f"step {step!r}: retries must look like "
                f'{{"limit": 3, "delay": "10 seconds", "backoff": "exponential"}}: {exc}'
            ) from None
