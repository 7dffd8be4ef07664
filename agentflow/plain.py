"""Plain JSON data: what may cross from plan code into the store, the log and other processes.

Everything a plan produces (step results, outputs, events, errors, printed text) is checked here
before it is rendered or encoded: its size is estimated while it is walked, so a value that
would take gigabytes to render is refused after a few megabytes of work; text must be valid
UTF-8; nesting depth, integers and floats are bounded. Readers (the status API, the review app,
`agentflow runs list`) can then always decode what was stored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from agentflow.errors import PlainDataError

#: Deepest nesting of lists and dicts a stored value may have (JSON readers recurse).
MAX_DEPTH = 100
#: Integers outside ±2**63 are refused: other languages' JSON readers cannot hold them.
MAX_INT = 2**63 - 1
#: Longest error message kept, in characters.
MAX_MESSAGE_CHARS = 4_000

_SCALAR_COST = 8


def plain(
    value: Any,
    *,
    max_bytes: int,
    what: str,
    convert: Callable[[Any], Any] | None = None,
) -> tuple[Any, int]:
    """Return `value` as plain JSON data (dicts, lists, text, numbers, booleans, None).

    Tuples become lists, datetimes ISO-8601 text, sets sorted lists, dict keys text, as
    `json.dumps` would write them. `convert` may turn other objects (a host's pydantic model)
    into plain data first; it is never given plan objects.

    Returns:
        The plain value and an estimate of its JSON size in bytes (exact for ASCII text).

    Raises:
        PlainDataError: the value is too big, too deep, not JSON data, holds invalid text or a
            number out of range. The message names `what` and the path to the bad part.
    """
    budget = _Budget(max_bytes, what)
    kind = type(value)
    # A lone scalar (most step outputs, every `running` record's None) needs no walk.
    if kind is str:
        return _text(value, budget, []), budget.used
    if kind in _SCALAR_COSTS:
        return _scalar(value, kind, budget, []), budget.used
    result = _walk(value, budget, convert)
    return result, budget.used


class _Budget:
    __slots__ = ("limit", "used", "what")

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.used = 0
        self.what = what

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise PlainDataError(
                f"{self.what} is more than {self.limit:,} bytes of JSON; the limit is "
                f"{self.limit:,} bytes"
            )

    def fail(self, path: list[Any], problem: str) -> PlainDataError:
        where = "".join(f"[{p!r}]" for p in path)
        return PlainDataError(f"{self.what}{' at ' + where if where else ''} {problem}")


def _walk(root: Any, budget: _Budget, convert: Callable[[Any], Any] | None) -> Any:
    # Iterative, so that deep input never overflows the interpreter's stack; shared
    # sub-structures are counted each time they appear, as their rendering would be.
    holder: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, list[Any]]] = [(root, holder, 0, [])]
    while stack:
        value, parent, slot, path = stack.pop()
        kind = type(value)
        if kind is str:
            parent[slot] = _text(value, budget, path)
        elif kind in _SCALAR_COSTS:
            parent[slot] = _scalar(value, kind, budget, path)
        elif kind in _COLLECTIONS:
            items = list(value) if kind in (list, tuple) else _sorted(value, budget, path)
            _check_depth(path, budget)
            budget.spend(2 + len(items))
            copy: list[Any] = [None] * len(items)
            parent[slot] = copy
            for index in range(len(items) - 1, -1, -1):
                stack.append((items[index], copy, index, [*path, index]))
        elif kind is dict:
            stack.extend(reversed(_dict_items(value, parent, slot, path, budget)))
        else:
            # A date becomes its ISO text; anything else is converted, or refused.
            stack.append((_non_json(value, budget, path, convert), parent, slot, path))
    return holder[0]


#: What a scalar costs, by type, on top of `_SCALAR_COST` (its rendering, estimated).
_SCALAR_COSTS: dict[type, int] = {bool: 0, type(None): 0, int: 12, float: 16}
_COLLECTIONS = frozenset({list, tuple, set, frozenset})


def _scalar(value: Any, kind: type, budget: _Budget, path: list[Any]) -> Any:
    if kind is int and not -MAX_INT <= value <= MAX_INT:
        raise budget.fail(path, f"holds an integer outside ±2**63 ({_digits(value)})")
    if kind is float and not math.isfinite(value):
        raise budget.fail(path, f"holds {value!r}, which JSON cannot represent")
    budget.spend(_SCALAR_COST + _SCALAR_COSTS[kind])
    return value


def _dict_items(
    value: dict[Any, Any], parent: Any, slot: Any, path: list[Any], budget: _Budget
) -> list[tuple[Any, Any, Any, list[Any]]]:
    """Place an empty copy of `value` in `parent[slot]`; return its items still to walk."""
    _check_depth(path, budget)
    budget.spend(2 + 2 * len(value))
    out: dict[str, Any] = {}
    parent[slot] = out
    pending = []
    for key, item in value.items():
        name = _key(key, budget, path)
        out[name] = None
        pending.append((item, out, name, [*path, name]))
    return pending


def _non_json(
    value: Any, budget: _Budget, path: list[Any], convert: Callable[[Any], Any] | None
) -> Any:
    kind = type(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if convert is not None:
        converted = convert(value)
        if converted is value:
            raise budget.fail(path, f"holds a {kind.__name__}, which is not JSON data")
        return converted
    raise budget.fail(
        path,
        f"holds a {kind.__name__}, which is not JSON data: use dicts, lists, text, "
        "numbers, booleans and None",
    )


def _check_depth(path: list[Any], budget: _Budget) -> None:
    if len(path) >= MAX_DEPTH:
        raise budget.fail(path[:3], f"is nested deeper than {MAX_DEPTH} levels")


def _text(value: str, budget: _Budget, path: list[Any]) -> str:
    budget.spend(len(value) + 2)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise budget.fail(
                path,
                f"holds text that is not valid UTF-8 (a lone surrogate {value[exc.start]!r} "
                f"at character {exc.start})",
            ) from None
    return value


def _key(key: Any, budget: _Budget, path: list[Any]) -> str:
    if type(key) is str:
        return _text(key, budget, path)
    # Counted as the text it becomes, so that walking the result again counts the same.
    text = _key_text(key, budget, path)
    budget.spend(len(text) + 2)
    return text


def _key_text(key: Any, budget: _Budget, path: list[Any]) -> str:
    if type(key) is bool or key is None:
        return json.dumps(key)
    if type(key) is int:
        if not -MAX_INT <= key <= MAX_INT:
            raise budget.fail(path, f"has an integer key outside ±2**63 ({_digits(key)})")
        return str(key)
    if type(key) is float and math.isfinite(key):
        return repr(key)
    raise budget.fail(path, f"has a key of type {type(key).__name__}; JSON keys are text")


def _sorted(items: Any, budget: _Budget, path: list[Any]) -> list[Any]:
    budget.spend(len(items))
    try:
        return sorted(items)
    except TypeError:
        raise budget.fail(path, "holds a set of mixed types, which has no JSON order") from None


def _digits(value: int) -> str:
    return f"about {int(value.bit_length() * 0.30103) + 1} digits"


def safe_text(text: str, limit: int | None = None) -> str:
    r"""`text` with lone surrogates written as `\udXXX` escapes, cut to `limit` characters."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_message(exc: BaseException, limit: int = MAX_MESSAGE_CHARS) -> str:
    """The message of `exc`, estimated before it is rendered, bounded and valid UTF-8."""
    args = getattr(exc, "args", ())
    estimate = rendered_size(args, limit * 4)
    if estimate > limit * 4:
        return f"({type(exc).__name__} with a message of more than {limit:,} characters)"
    try:
        text = str(exc)
    except Exception:  # an exception whose __str__ fails still needs a message
        text = f"({type(exc).__name__} whose message cannot be shown)"
    return safe_text(text, limit)


def rendered_size(value: Any, limit: int) -> int:
    """Estimate how many characters `repr(value)` would produce, stopping once over `limit`.

    Walks containers iteratively (no recursion) and counts shared sub-structures every time
    they appear, as their rendering does.
    """
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bytes:
            total += len(item) * (1 if kind is str else 4) + 2
        elif kind is int:
            total += item.bit_length() // 3 + 2
        elif kind in (list, tuple, set, frozenset):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        elif kind is dict:
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        else:
            total += 32
    return total
