"""The globals a plan runs with: safe builtins, guards, read-only modules, `tools`, `print`.

`build_namespace` makes a fresh dictionary for every execution, so a plan can never see state
left by an earlier run (budget, printed output, imported modules).
"""

from __future__ import annotations

import builtins
import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from agentflow import errors
from agentflow.plain import rendered_size, safe_text
from agentflow.plan.budget import Meter
from agentflow.plan.guards import (
    CountedType,
    ModuleProxy,
    PlanGuards,
    ToolsBox,
    iterate_checked,
    real_type,
)
from agentflow.plan.policy import (
    AGENTFLOW_EXCEPTIONS,
    BUILTIN_EXCEPTIONS,
    DEFAULT_POLICY,
    SAFE_BUILTINS,
    PlanPolicy,
)

_LN2 = math.log(2)
_REPLACED = frozenset({"range", "sum", "pow", "round", "repr", "print", "isinstance"})
# Builtins that build a container from their arguments: calls are charged by the result's size.
_COUNTED = tuple(
    (name, getattr(builtins, name))
    for name in ("dict", "frozenset", "list", "set", "sorted", "str", "tuple")
)
_BASE_BUILTINS: dict[str, Any] = {
    **{name: getattr(builtins, name) for name in SAFE_BUILTINS if name not in _REPLACED},
    **{name: getattr(builtins, name) for name in BUILTIN_EXCEPTIONS},
    **{name: getattr(errors, name) for name in AGENTFLOW_EXCEPTIONS},
    "True": True,
    "False": False,
    "None": None,
}
_TRUNCATED = "[output truncated]"
# ` at 0x7f...` in the default repr of functions and objects: memory layout is not plan data.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class PrintCollector:
    """What RestrictedPython's `print` rewrite calls: one `print_sink` line per `print`."""

    def __init__(self, sink: Callable[[str], None] | None, limit: int) -> None:
        self._sink = sink
        self._room = limit
        self._truncated = False

    def factory(self, _getattr: Any = None) -> PrintCollector:
        """`_print_(_getattr_)`: every function's `print` shares this execution's collector."""
        return self

    def _call_print(self, *objects: Any, sep: Any = " ", end: Any = "\n", **kwargs: Any) -> None:
        if kwargs.get("file") is not None:
            raise TypeError("print(file=...) is not available in plans")
        if self._sink is None or self._truncated:
            return
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if type(sep) is not str or type(end) is not str:
            raise TypeError("print(): sep and end must be text")
        if len(sep) > 64 or len(end) > 64:
            raise ValueError("print(): sep and end are limited to 64 characters in plans")
        parts = []
        for obj in objects:
            if rendered_size(obj, self._room + 1) > self._room + 1:
                parts.append("…")
                self._room = -1  # what was printed so far stays; the rest is cut
                continue
            parts.append(str(obj))
        text = safe_text(sep.join(parts) + end)
        if text.endswith("\n"):
            text = text[:-1]
        if len(text) <= self._room:
            self._room -= len(text)
            self._sink(text)
            return
        if self._room > 0:
            self._sink(text[: self._room])
        self._sink(_TRUNCATED)
        self._truncated = True


def _bits_of(log_value: float) -> int:
    return int(log_value / _LN2) + 1 if log_value < 1e15 else 10**15


def _math_functions(meter: Meter, guards: PlanGuards) -> dict[str, Any]:
    def factorial(n: int) -> int:
        if isinstance(n, int) and n > 1:
            meter.check_bits(_bits_of(math.lgamma(n + 1)), "math.factorial()")
        return math.factorial(n)

    def comb(n: int, k: int) -> int:
        if isinstance(n, int) and isinstance(k, int) and 0 < k < n:
            log = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            meter.check_bits(_bits_of(log), "math.comb()")
        return math.comb(n, k)

    def perm(n: int, k: int | None = None) -> int:
        if isinstance(n, int) and n > 1 and (k is None or (isinstance(k, int) and 0 < k <= n)):
            top = n if k is None else k
            meter.check_bits(_bits_of(math.lgamma(n + 1) - math.lgamma(n - top + 1)), "math.perm()")
        return math.perm(n, k)

    def prod(iterable: Any, *, start: Any = 1) -> Any:
        result = start
        for item in iterate_checked(iterable, meter.tick):
            result = guards.op_mul(result, item)
        return result

    def lcm(*integers: int) -> int:
        bits = sum(i.bit_length() for i in integers if isinstance(i, int))
        meter.check_bits(bits, "math.lcm()")
        return math.lcm(*integers)

    return {"factorial": factorial, "comb": comb, "perm": perm, "prod": prod, "lcm": lcm}


def _json_functions(meter: Meter) -> dict[str, Any]:
    def dumps(obj: Any, **kwargs: Any) -> str:
        if kwargs.get("cls") is not None:
            raise TypeError("json.dumps(cls=...) is not available in plans")
        indent = kwargs.get("indent")
        width = len(indent) if isinstance(indent, str) else int(indent or 0)
        separators = kwargs.get("separators") or (", ", ": ")
        if width > 64 or any(len(str(s)) > 8 for s in separators):
            raise ValueError("json.dumps: indent is limited to 64 and separators to 8 characters")
        limit = meter.limits.max_sequence_length
        meter.charge(rendered_size(obj, limit) * (1 + width), "json.dumps()")
        text = json.dumps(obj, **kwargs)
        meter.charge(len(text), "json.dumps()")
        return text

    def loads(text: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise TypeError("json.loads() takes no options in plans")
        # A document cannot hold more values than it has characters.
        meter.charge(len(text), "json.loads()")
        return json.loads(text)

    return {"dumps": dumps, "loads": loads}


def _bounded_builtins(meter: Meter, guards: PlanGuards, printer: PrintCollector) -> dict[str, Any]:
    limit = meter.limits.max_sequence_length

    def range_(*args: Any) -> range:
        values = range(*args)
        try:
            length = len(values)
        except OverflowError:
            length = limit + 1
        if length > limit:
            meter.exhausted(f"range() of {length} items is over max_sequence_length={limit}")
        return values

    def sum_(iterable: Any, /, start: Any = 0) -> Any:
        if isinstance(start, int | float | complex):
            return builtins.sum(iterable, start)
        # Summing sequences copies them over and over: do it step by step, metered.
        result = start
        for item in iterate_checked(iterable, meter.tick):
            result = guards.op_add(result, item)
        return result

    def repr_(obj: Any) -> str:
        meter.charge(rendered_size(obj, limit), "repr()")
        return _ADDRESS.sub("", builtins.repr(obj))

    bounded: dict[str, Any] = {name: CountedType(real, meter, name) for name, real in _COUNTED}
    bounded["range"] = range_
    bounded["sum"] = sum_
    bounded["isinstance"] = _isinstance
    bounded["pow"] = guards.op_pow
    bounded["round"] = _round
    bounded["repr"] = repr_
    return bounded


# Plan code cannot change a function (it may only assign into dicts and lists, and reads no
# `_` attributes): these two keep no state, so every execution may share them.
def _isinstance(obj: Any, kinds: Any) -> bool:
    return isinstance(obj, real_type(kinds))


def _round(number: Any, ndigits: Any = None) -> Any:
    if ndigits is not None and isinstance(ndigits, int) and abs(ndigits) > 4096:
        raise ValueError("round(): ndigits must be between -4096 and 4096 in plans")
    return builtins.round(number, ndigits)


def build_namespace(
    meter: Meter,
    step: Any,
    tools: Mapping[str, Callable[..., Any]],
    print_sink: Callable[[str], None] | None,
    policy: PlanPolicy = DEFAULT_POLICY,
) -> dict[str, Any]:
    """Return fresh globals for one execution of a plan, with what `policy` allows."""
    guards = PlanGuards(meter, step)
    printer = PrintCollector(print_sink, meter.limits.max_print_chars)
    imported: dict[str, ModuleProxy] = {}

    def import_(
        name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0
    ) -> ModuleProxy:
        allowed = policy.module_attributes(name)
        if level != 0 or allowed is None:
            raise ImportError(f"module {name!r} is not available in plans")
        if name not in imported:
            attrs = dict(allowed)
            if name == "math":
                attrs.update(_math_functions(meter, guards))
            elif name == "json":
                attrs.update(_json_functions(meter))
            imported[name] = ModuleProxy(name, attrs)
        return imported[name]

    safe_builtins = dict(_BASE_BUILTINS)
    safe_builtins.update(_bounded_builtins(meter, guards, printer))
    if policy != DEFAULT_POLICY:
        predefined = policy.predefined_names
        safe_builtins = {k: v for k, v in safe_builtins.items() if k in predefined}
    safe_builtins["__import__"] = import_
    return {
        "__builtins__": safe_builtins,
        "__name__": "agentflow_plan",
        "_getattr_": guards.getattr,
        "_getitem_": guards.getitem,
        "_getiter_": guards.getiter,
        "_write_": guards.write,
        "_apply_": guards.apply,
        "_inplacevar_": guards.inplacevar,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_print_": printer.factory,
        "_tick_": meter.tick,
        "_enter_": meter.enter,
        "_leave_": meter.leave,
        "_op_pow_": guards.op_pow,
        "_op_lshift_": guards.op_lshift,
        "_op_mul_": guards.op_mul,
        "_op_add_": guards.op_add,
        "_op_mod_": guards.op_mod,
        "_fmt_": guards.fmt,
        "tools": ToolsBox(dict(tools)),
    }
