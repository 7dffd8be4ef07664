"""The values plan code receives: plain, frozen, built from JSON, with allow-listed attributes.

A library model (pydantic, SQLAlchemy) never reaches plan code: its public methods are a door
(`parse_raw(..., proto="pickle")` once was). `event` and the `Event` a wait returns are these
small classes instead; the attribute guard reads `PLAN_ATTRIBUTES` to decide what a plan may
read of them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


class _Frozen:
    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only in plans")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only in plans")


class RunInput(_Frozen):
    """`event` in `run(event, step)`: the run's params and identity."""

    __slots__ = ("agent_id", "params", "run_id", "timestamp")

    params: dict[str, Any]
    run_id: str
    agent_id: str
    timestamp: datetime

    def __init__(
        self, params: dict[str, Any], run_id: str, agent_id: str, timestamp: datetime
    ) -> None:
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "run_id", run_id)
        object.__setattr__(self, "agent_id", agent_id)
        object.__setattr__(self, "timestamp", timestamp)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunInput:
        """Build from `{"params", "run_id", "agent_id", "timestamp": epoch seconds}`."""
        return cls(
            dict(data.get("params") or {}),
            str(data["run_id"]),
            str(data["agent_id"]),
            datetime.fromtimestamp(float(data["timestamp"]), tz=UTC),
        )

    def __repr__(self) -> str:
        return f"RunInput(run_id={self.run_id!r}, agent_id={self.agent_id!r})"


class Event(_Frozen):
    """What `step.wait_for_event` returns: `type`, `payload` and `timestamp`."""

    __slots__ = ("payload", "timestamp", "type")

    type: str
    payload: Any
    timestamp: datetime

    def __init__(self, type: str, payload: Any, timestamp: datetime) -> None:
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "payload", payload)
        object.__setattr__(self, "timestamp", timestamp)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.type, self.payload, self.timestamp) == (
            other.type,
            other.payload,
            other.timestamp,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Event(type={self.type!r}, timestamp={self.timestamp.isoformat()!r})"


#: The attributes plan code may read on each of these types, and nothing else.
PLAN_ATTRIBUTES: dict[type, frozenset[str]] = {
    RunInput: frozenset({"params", "run_id", "agent_id", "timestamp"}),
    Event: frozenset({"type", "payload", "timestamp"}),
}
