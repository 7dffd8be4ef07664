"""Run-time guards that RestrictedPython's rewritten code calls (`_getattr_`, `_write_`, ...).

One `PlanGuards` exists per `CompiledPlan.execute` call: it closes over that call's meter and
`step` object, so no state leaks from one execution to the next.
"""

from __future__ import annotations

import datetime
import math
import operator
import re
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from agentflow.errors import ToolNotAllowed
from agentflow.plain import rendered_size
from agentflow.plan.attributes import allowed_attribute
from agentflow.plan.budget import Meter
from agentflow.plan.policy import CLOCK_METHODS, STEP_METHODS

_SEQUENCES = (str, bytes, list, tuple)
_INTS = (int, bool)
_WRITABLE = (dict, list)
_SCALARS = (str, int, float, bool, type(None))
_DATE_TYPES = (datetime.date, datetime.time, datetime.timedelta, datetime.tzinfo)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# `%` conversion specs; the groups are the width and the precision.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class ModuleProxy:
    """A read-only view of an allowed module: only its listed attributes, no writes."""

    __slots__ = ("_attrs", "_name")

    def __init__(self, name: str, attrs: dict[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_attrs", types.MappingProxyType(dict(attrs)))

    def __getattr__(self, attr: str) -> Any:
        try:
            return self._attrs[attr]
        except KeyError:
            raise AttributeError(
                f"module {self._name!r} has no attribute {attr!r} available to plans"
            ) from None

    def __setattr__(self, attr: str, value: Any) -> None:
        raise AttributeError(f"module {self._name!r} is read-only in plans")

    def __delattr__(self, attr: str) -> None:
        raise AttributeError(f"module {self._name!r} is read-only in plans")

    def __repr__(self) -> str:
        return f"<module {self._name!r} (read-only)>"


class CountedType:
    """A builtin type as plans see it (`list`, `dict`, `str`, `sorted`, ...).

    Calling it charges the size of what it built to the allocation budget, so copies cannot
    pile up unmetered.

    `isinstance(x, list)` and `dict.fromkeys` still work: the plan's `isinstance` and the
    attribute guard look through to the real type.
    """

    __slots__ = ("meter", "name", "real")

    def __init__(self, real: Any, meter: Meter, name: str) -> None:
        self.real = real
        self.meter = meter
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Build the value as the real type does, and charge its size."""
        if self.real is str and args and not kwargs and len(args) == 1:
            # `str()` of a big structure renders it all before anything could be charged.
            self.meter.charge(
                rendered_size(args[0], self.meter.limits.max_sequence_length), "str()"
            )
        result = self.real(*args, **kwargs)
        self.meter.charge(len(result), f"{self.name}()")
        if self.real is str and " at 0x" in result:
            return _ADDRESS.sub("", result)
        return result

    def __repr__(self) -> str:
        return repr(self.real)


def real_type(value: Any) -> Any:
    """The builtin behind a `CountedType` (tuples of them too); anything else unchanged."""
    if isinstance(value, CountedType):
        return value.real
    if type(value) is tuple:
        return tuple(real_type(item) for item in value)
    return value


class ToolsBox:
    """The plan's `tools` global: its attributes are exactly the callables given to execute()."""

    __slots__ = ("_tools",)

    def __init__(self, tools: dict[str, Callable[..., Any]]) -> None:
        object.__setattr__(self, "_tools", dict(tools))

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_"):
            try:
                return self._tools[name]
            except KeyError:
                pass
        raise ToolNotAllowed(name, message=f"tool {name!r} was not given to this plan's run")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("`tools` is read-only in plans")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("`tools` is read-only in plans")

    def __repr__(self) -> str:
        return f"<tools: {', '.join(sorted(self._tools))}>"


class PlanGuards:
    """The guard functions of one execution."""

    def __init__(self, meter: Meter, step: Any) -> None:
        self.meter = meter
        self.step = step
        self.limits = meter.limits

    # --- attribute, item and iteration access -------------------------------------------

    def getattr(self, obj: Any, name: str) -> Any:
        """`obj.name` in plan code: only what `attributes.allowed_attribute` lists."""
        if type(name) is not str or name.startswith("_"):
            raise AttributeError(f"attribute {name!r} is not accessible in plans")
        if isinstance(obj, CountedType):
            obj = obj.real
        if obj is self.step:
            if name not in STEP_METHODS:
                raise AttributeError(
                    f"step has no method {name!r}; use one of {', '.join(STEP_METHODS)}"
                )
            return getattr(obj, name)
        if isinstance(obj, ModuleProxy | ToolsBox):
            return getattr(obj, name)
        if not allowed_attribute(obj, name):
            raise _refusal(obj, name)
        return self._metered(obj, name, getattr(obj, name))

    def _metered(self, obj: Any, name: str, value: Any) -> Any:
        """`value`, read as `obj.name`, wrapped so that what it builds is charged."""
        if name in _SIZED_NAMES:
            is_type = isinstance(obj, type)
            for kind in _SIZED_KINDS:
                if issubclass(obj, kind) if is_type else isinstance(obj, kind):
                    wrapper = _SIZED_METHODS.get((kind, name))
                    if wrapper is not None:
                        return wrapper(self.meter, value, is_type)
        if callable(value) and (
            type(obj) in _CONTAINERS or (isinstance(obj, type) and obj in _CONTAINERS)
        ):
            return _charged_method(self.meter, value, name)
        return value

    def getitem(self, obj: Any, key: Any) -> Any:
        """`obj[key]` in plan code; slices are charged to the allocation budget."""
        value = obj[key]
        if type(key) is slice and type(value) in _SEQUENCES:
            self.meter.charge(len(value), "a slice")
        return value

    def write(self, obj: Any) -> Any:
        """The target of `obj[k] = v` / `obj.a = v`: only plain dicts and lists may change."""
        if type(obj) in _WRITABLE:
            return obj
        raise TypeError(f"plans may only assign into dicts and lists, not {type(obj).__name__}")

    def getiter(self, iterable: Any) -> Iterator[Any]:
        """Iterate for a `for` loop or comprehension, one tick per item."""
        return _metered(iter(iterable), self.meter.tick)

    @staticmethod
    def apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`f(*args, **kwargs)` in plan code."""
        return func(*args, **kwargs)

    # --- operators ----------------------------------------------------------------------

    def check_mul(self, a: Any, b: Any) -> None:
        """Refuse `a * b` when the result would be too big."""
        if type(a) in _INTS and type(b) in _INTS:
            self.meter.check_bits(a.bit_length() + b.bit_length(), "`*`")
        elif isinstance(a, _SEQUENCES) and type(b) in _INTS:
            self.meter.charge(len(a) * max(b, 0), "`*` on a sequence")
        elif isinstance(b, _SEQUENCES) and type(a) in _INTS:
            self.meter.charge(len(b) * max(a, 0), "`*` on a sequence")

    def check_pow(self, a: Any, b: Any) -> None:
        """Refuse `a ** b` on integers when the result would have too many bits."""
        if type(a) in _INTS and type(b) in _INTS and b > 0 and abs(a) > 1:
            self.meter.check_bits(int(b * math.log2(abs(a))) + 1, "`**`")

    def check_lshift(self, a: Any, b: Any) -> None:
        """Refuse `a << b` when the result would have too many bits."""
        if type(a) in _INTS and type(b) in _INTS and b > 0 and a:
            self.meter.check_bits(a.bit_length() + b, "`<<`")

    def check_add(self, a: Any, b: Any) -> None:
        """Refuse `a + b` on sequences when the result would be too long."""
        if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
            self.meter.charge(len(a) + len(b), "`+` on sequences")

    def op_mul(self, a: Any, b: Any) -> Any:
        """Guarded `a * b`."""
        self.check_mul(a, b)
        return a * b

    def op_pow(self, a: Any, b: Any, mod: Any = None) -> Any:
        """Guarded `a ** b` and `pow(a, b[, mod])`."""
        if mod is not None:
            return pow(a, b, mod)
        self.check_pow(a, b)
        return a**b

    def op_lshift(self, a: Any, b: Any) -> Any:
        """Guarded `a << b`."""
        self.check_lshift(a, b)
        return a << b

    def op_add(self, a: Any, b: Any) -> Any:
        """Guarded `a + b`."""
        self.check_add(a, b)
        return a + b

    def op_mod(self, a: Any, b: Any) -> Any:
        """Guarded `a % b`: printf-style formatting with bounded widths."""
        if isinstance(a, str | bytes):
            text = a.decode("latin-1") if isinstance(a, bytes) else a
            for width, precision in _PERCENT_SPEC.findall(text):
                if "*" in (width, precision):
                    raise ValueError("'*' widths in % formatting are not allowed in plans")
                self.meter.charge(int(width or 0) + int(precision or 0), "`%` formatting")
            self.meter.charge(rendered_size(b, self.limits.max_sequence_length), "`%` formatting")
            result = a % b
            self.meter.charge(len(result), "`%` formatting")
            return result
        return a % b

    def inplacevar(self, op: str, x: Any, y: Any) -> Any:
        """`x op= y` on a name (RestrictedPython turns it into this call)."""
        check = _INPLACE_CHECKS.get(op)
        if check is not None:
            check(self, x, y)
        if op == "%=":
            return self.op_mod(x, y)
        return _INPLACE_OPS[op](x, y)

    def fmt(self, value: Any) -> Any:
        """A value interpolated into an f-string: refuse values whose text would be huge."""
        if type(value) not in _SCALARS:
            limit = self.limits.max_sequence_length
            self.meter.charge(rendered_size(value, limit), "an f-string value")
        return value


def _refusal(obj: Any, name: str) -> AttributeError:
    if name in CLOCK_METHODS and (
        isinstance(obj, _DATE_TYPES) or (isinstance(obj, type) and issubclass(obj, _DATE_TYPES))
    ):
        return AttributeError(f"{name}() reads the clock; use step.now() in plans")
    return AttributeError(f"{_kind_name(obj)} has no attribute {name!r} that plans may read")


def _kind_name(obj: Any) -> str:
    if isinstance(obj, type):
        return f"type {obj.__name__!r}"
    return f"a {type(obj).__name__!r} value"


def _metered(iterator: Iterator[Any], tick: Callable[[], None]) -> Iterator[Any]:
    for item in iterator:
        tick()
        yield item


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "&=": operator.iand,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}
_INPLACE_CHECKS: dict[str, Callable[[PlanGuards, Any, Any], None]] = {
    "+=": PlanGuards.check_add,
    "*=": PlanGuards.check_mul,
    "**=": PlanGuards.check_pow,
    "<<=": PlanGuards.check_lshift,
}


# --- methods of builtin types that can build huge values ------------------------------------

_Estimator = Callable[[Any, tuple[Any, ...], dict[str, Any]], int]


def _pad_estimate(s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    width = args[0] if args else kwargs.get("width", 0)
    return max(int(width), len(s)) if type(width) in _INTS else len(s)


def _tabs_estimate(s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    size = args[0] if args else kwargs.get("tabsize", 8)
    tab = "\t" if isinstance(s, str) else b"\t"
    return len(s) + s.count(tab) * max(int(size), 0) if type(size) in _INTS else len(s)


def _replace_estimate(s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    if len(args) < 2 or not all(isinstance(a, str | bytes) for a in args[:2]):
        return len(s)
    old, new = args[0], args[1]
    hits = len(s) + 1 if not old else s.count(old)
    count = args[2] if len(args) > 2 else kwargs.get("count", -1)
    if type(count) in _INTS and count >= 0:
        hits = min(hits, count)
    return len(s) + hits * max(len(new) - len(old), 0)


def _translate_estimate(s: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    table = args[0] if args else None
    if isinstance(table, dict):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        return len(s) * max(longest, 1)
    return len(s)


def _to_bytes_estimate(n: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    length = args[0] if args else kwargs.get("length", 1)
    return int(length) if type(length) in _INTS else 1


def _extend_estimate(lst: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    other = args[0] if args else ()
    return len(lst) + (len(other) if hasattr(other, "__len__") else 0)


def _sized(estimate: _Estimator, what: str) -> Callable[[Meter, Any, bool], Callable[..., Any]]:
    def wrap(meter: Meter, method: Callable[..., Any], unbound: bool) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if unbound:
                if not args:
                    return method()
                meter.charge(estimate(args[0], args[1:], kwargs), what)
            else:
                meter.charge(estimate(getattr(method, "__self__", ""), args, kwargs), what)
            return method(*args, **kwargs)

        return guarded

    return wrap


def _join_wrap(meter: Meter, method: Callable[..., Any], unbound: bool) -> Callable[..., Any]:
    def guarded(*args: Any) -> Any:
        sep, rest = (args[0], args[1:]) if unbound else (getattr(method, "__self__", ""), args)
        if len(rest) != 1:
            return method(*args)
        parts = list(rest[0])
        size = sum(len(p) for p in parts if isinstance(p, str | bytes))
        meter.charge(size + len(sep) * max(len(parts) - 1, 0), "join()")
        return method(sep, parts) if unbound else method(parts)

    return guarded


_SIZED_METHODS: dict[tuple[type, str], Callable[[Meter, Any, bool], Callable[..., Any]]] = {}
for _kind in (str, bytes):
    for _name in ("center", "ljust", "rjust", "zfill"):
        _SIZED_METHODS[(_kind, _name)] = _sized(_pad_estimate, f"{_kind.__name__}.{_name}()")
    _SIZED_METHODS[(_kind, "expandtabs")] = _sized(_tabs_estimate, "expandtabs()")
    _SIZED_METHODS[(_kind, "replace")] = _sized(_replace_estimate, "replace()")
    _SIZED_METHODS[(_kind, "translate")] = _sized(_translate_estimate, "translate()")
    _SIZED_METHODS[(_kind, "join")] = _join_wrap
_SIZED_METHODS[(int, "to_bytes")] = _sized(_to_bytes_estimate, "int.to_bytes()")
_SIZED_METHODS[(list, "extend")] = _sized(_extend_estimate, "list.extend()")
_SIZED_NAMES = frozenset(name for _, name in _SIZED_METHODS)
_SIZED_KINDS = (str, bytes, int, list)


def iterate_checked(items: Iterable[Any], tick: Callable[[], None]) -> Iterator[Any]:
    """Iterate `items`, one tick per item (for bounded builtins such as `sum`)."""
    return _metered(iter(items), tick)


# Containers whose methods may build new values (`s.upper()`, `d.copy()`, `s.split()`, ...):
# what a call returns is charged to the allocation budget, so that copies kept in a loop or a
# comprehension stop at `max_allocated_items` instead of at the machine's memory.
_CONTAINERS = frozenset({str, bytes, list, tuple, dict, set, frozenset})


def _charged_method(meter: Meter, method: Callable[..., Any], name: str) -> Callable[..., Any]:
    def charged(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        if type(result) in _CONTAINERS:
            meter.charge(len(result), f"{name}()")
        return result

    return charged
