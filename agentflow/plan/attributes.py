"""Which attributes plan code may read, per type: an allow-list, never a deny-list.

The run-time guard (`guards.PlanGuards.getattr`) asks `allowed_attribute`; the compiler's risk
summary asks `KNOWN_ATTRIBUTES` whether an attribute a plan reads exists on any value a plan can
reach, and rates a plan that reads one it cannot explain as high risk.
"""

from __future__ import annotations

import datetime
import json
import statistics
from typing import Any

from agentflow import errors
from agentflow.plan.data import PLAN_ATTRIBUTES
from agentflow.plan.policy import (
    ALLOWED_MODULES,
    CLOCK_METHODS,
    FORBIDDEN_ATTRIBUTES,
    STEP_METHODS,
)

#: Methods refused on values even though they are public: `str.format` walks attributes, `mro`
#: hands out `object`, the clock methods read real time.
_REFUSED = FORBIDDEN_ATTRIBUTES | CLOCK_METHODS | {"mro", "with_traceback", "add_note"}

_VALUE_TYPES: tuple[type, ...] = (
    str,
    bytes,
    int,
    float,
    bool,
    complex,
    list,
    tuple,
    dict,
    set,
    frozenset,
)
_DATE_TYPES: tuple[type, ...] = (
    datetime.date,
    datetime.datetime,
    datetime.time,
    datetime.timedelta,
    datetime.timezone,
)


def _public(kind: type) -> frozenset[str]:
    return frozenset(n for n in dir(kind) if not n.startswith("_") and n not in _REFUSED)


#: Attributes of instances *and* of the type objects themselves (`dict.fromkeys`, `str.join`).
VALUE_ATTRIBUTES: dict[type, frozenset[str]] = {
    kind: _public(kind) for kind in _VALUE_TYPES + _DATE_TYPES
}
VALUE_ATTRIBUTES.update(PLAN_ATTRIBUTES)

#: Fields of the exceptions a plan can catch, besides `args`.
EXCEPTION_FIELDS: dict[type, frozenset[str]] = {
    errors.StepFailed: frozenset({"step", "error_type", "error_message", "attempts"}),
    errors.WaitTimeout: frozenset({"step", "event_type", "timeout"}),
    json.JSONDecodeError: frozenset({"msg", "doc", "pos", "lineno", "colno"}),
    statistics.StatisticsError: frozenset(),
}


def exception_attributes(kind: type) -> frozenset[str]:
    """What a plan may read on an exception of type `kind`."""
    names = {"args"}
    for base in kind.__mro__:
        names |= EXCEPTION_FIELDS.get(base, frozenset())
    return frozenset(names)


def allowed_attribute(obj: Any, name: str) -> bool:
    """Whether plan code may read `obj.name`, for values and exceptions.

    The step, `tools` and modules are decided by the guard itself.
    """
    kind = type(obj)
    names = VALUE_ATTRIBUTES.get(kind)
    if names is not None:
        return name in names
    if kind is type:
        names = VALUE_ATTRIBUTES.get(obj)
        return names is not None and name in names
    if isinstance(obj, BaseException):
        return name in exception_attributes(kind)
    return False


#: Every attribute name that some value reachable from a plan has.
KNOWN_ATTRIBUTES: frozenset[str] = frozenset(
    set().union(*VALUE_ATTRIBUTES.values())
    | set().union(*EXCEPTION_FIELDS.values())
    | {"args"}
    | set(STEP_METHODS)
    | {name for attrs in ALLOWED_MODULES.values() for name in attrs}
)
