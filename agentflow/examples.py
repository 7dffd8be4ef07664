"""Example values of a type annotation: what a simulated tool returns when no fixture says.

The values are plain JSON data, the shape a real tool's result takes once it is checkpointed:
models, dataclasses and TypedDicts become dicts of their fields, containers hold one example
element (so that a plan's loop over a tool's result runs once in a dry run), and anything that
cannot be known (`Any`, no annotation) is None.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from typing_extensions import is_typeddict

_MAX_DEPTH = 6


def example_of(annotation: Any, _depth: int = 0) -> Any:
    """A plain example value of `annotation` (None where no value can be told)."""
    if _depth > _MAX_DEPTH or annotation in (Any, inspect.Parameter.empty, None, type(None)):
        return None
    origin = typing.get_origin(annotation)
    if origin is not None:
        return _example_of_generic(annotation, origin, _depth)
    if isinstance(annotation, type):
        return _example_of_class(annotation, _depth)
    return None


def return_example(fn: Callable[..., Any]) -> Any:
    """An example of what `fn` returns, from its return annotation (None if it has none)."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation that names something its module cannot resolve
        return None
    return example_of(hints.get("return"))


def _example_of_generic(annotation: Any, origin: Any, depth: int) -> Any:
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in arguments if a is not type(None)]
        return example_of(present[0], depth + 1) if present else None
    if origin is typing.Literal:
        return arguments[0] if arguments else None
    if origin is typing.Annotated:
        return example_of(arguments[0], depth + 1)
    if isinstance(origin, type) and issubclass(origin, Mapping):
        value = arguments[1] if len(arguments) == 2 else Any
        return {"key": example_of(value, depth + 1)}
    if isinstance(origin, type) and issubclass(origin, tuple):
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return [example_of(arguments[0], depth + 1)]
        return [example_of(argument, depth + 1) for argument in arguments]
    if isinstance(origin, type) and issubclass(origin, (Sequence, set, frozenset)):
        return [example_of(arguments[0] if arguments else Any, depth + 1)]
    return None


_SIMPLE: dict[type, Any] = {
    bool: True,
    int: 1,
    float: 1.0,
    str: "example",
    bytes: "example",
    datetime.datetime: "2026-01-01T00:00:00+00:00",
    datetime.date: "2026-01-01",
}


def _example_of_class(cls: type, depth: int) -> Any:
    for kind, value in _SIMPLE.items():
        if issubclass(cls, kind):
            return value
    if issubclass(cls, enum.Enum):
        first = next(iter(cls), None)
        return None if first is None else first.value
    if issubclass(cls, BaseModel):
        return {
            name: example_of(field.annotation, depth + 1)
            for name, field in cls.model_fields.items()
        }
    if dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        return {
            f.name: example_of(hints.get(f.name, Any), depth + 1) for f in dataclasses.fields(cls)
        }
    if is_typeddict(cls):
        return {name: example_of(hint, depth + 1) for name, hint in _hints(cls).items()}
    if issubclass(cls, Mapping):
        return {}
    if issubclass(cls, (list, tuple, set, frozenset)):
        return []
    return None


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:
        return {}
