"""What the plan language allows: names, modules, attributes, and the RestrictedPython policy.

Every allow-list and deny-list lives here, so the compiler, the runtime guards and the
human-readable rules (`plan_rules`) are generated from one source of truth.
"""

from __future__ import annotations

import ast
import datetime
import json
import math
import statistics
import types
from typing import Any

from RestrictedPython import transformer as _rp_transformer
from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

from agentflow.errors import Diagnostic

#: The methods of the `step` object a plan may call.
STEP_METHODS: tuple[str, ...] = (
    "do",
    "sleep",
    "sleep_until",
    "wait_for_event",
    "map",
    "parallel",
    "now",
)

#: Keys of a `retries={...}` literal and the accepted back-off strategies.
RETRY_KEYS: frozenset[str] = frozenset({"limit", "delay", "backoff"})
BACKOFF_STRATEGIES: tuple[str, ...] = ("constant", "linear", "exponential")
#: The most retries a step may ask for (`retries={"limit": ...}`).
MAX_RETRIES = 100

#: Builtins exposed to plans, by name. `range`, `sum`, `pow` and `round` are bounded versions.
SAFE_BUILTINS: tuple[str, ...] = (
    "abs",
    "all",
    "any",
    "bool",
    "chr",
    "dict",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "frozenset",
    "int",
    "isinstance",
    "len",
    "list",
    "map",
    "max",
    "min",
    "ord",
    "pow",
    "print",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "slice",
    "sorted",
    "str",
    "sum",
    "tuple",
    "zip",
)

#: Exception classes plans may raise and catch (all derive from `Exception`).
BUILTIN_EXCEPTIONS: tuple[str, ...] = (
    "Exception",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "IndexError",
    "KeyError",
    "LookupError",
    "NotImplementedError",
    "OverflowError",
    "RuntimeError",
    "TypeError",
    "ValueError",
    "ZeroDivisionError",
)
AGENTFLOW_EXCEPTIONS: tuple[str, ...] = ("NonRetryableError", "WaitTimeout", "StepFailed")
ALLOWED_EXCEPTIONS: frozenset[str] = frozenset(BUILTIN_EXCEPTIONS + AGENTFLOW_EXCEPTIONS)

#: Exceptions that do not derive from `Exception`: catching them could swallow the runtime's
#: suspension signal or the compute-budget signal.
SIGNAL_EXCEPTIONS: frozenset[str] = frozenset(
    {"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseExceptionGroup"}
)

#: Names every plan sees besides builtins and imports.
PLAN_GLOBALS: tuple[str, ...] = ("tools",)

#: Builtins that are deliberately absent, with the reason shown to the plan's author.
FORBIDDEN_BUILTINS: dict[str, str] = {
    name: "it can reach code or objects outside the plan"
    for name in (
        "exec",
        "eval",
        "compile",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "vars",
        "dir",
        "globals",
        "locals",
        "type",
        "super",
        "object",
        "breakpoint",
        "input",
        "memoryview",
        "help",
        "classmethod",
        "staticmethod",
        "property",
        "format",
        "id",
        "issubclass",
        "iter",
        "next",
        "bytearray",
        "callable",
        "exit",
        "quit",
        "printed",
        "copyright",
        "credits",
        "license",
    )
}

#: Attribute names refused everywhere (in source and at run time), besides `_`-prefixed ones.
FORBIDDEN_ATTRIBUTES: frozenset[str] = frozenset(
    INSPECT_ATTRIBUTES
    | {
        "format",  # str.format walks attributes: "{0.__class__}".format(x)
        "format_map",
        "mro",  # would hand out BaseException and object
        "f_lasti",
        "tb_lasti",
        "gi_running",
        "cr_running",
    }
)

#: Clock methods of the datetime types: nondeterministic, so plans use `step.now()` instead.
CLOCK_METHODS: frozenset[str] = frozenset({"now", "today", "utcnow"})


def _public(module: Any, names: list[str] | None = None) -> dict[str, Any]:
    chosen = names if names is not None else [n for n in dir(module) if not n.startswith("_")]
    return {name: getattr(module, name) for name in chosen}


#: Importable modules and the attributes each exposes (read-only; see `guards.ModuleProxy`).
#: `datetime` gives value types only: its clock methods are refused at run time.
#: `re` is absent on purpose: a regular expression can backtrack for hours inside C code, where
#: no compute budget can stop it.
ALLOWED_MODULES: dict[str, dict[str, Any]] = {
    "math": _public(math),
    "json": _public(json, ["dumps", "loads", "JSONDecodeError"]),
    "statistics": _public(statistics, [n for n in statistics.__all__ if n != "NormalDist"]),
    "datetime": _public(
        datetime,
        ["date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR", "UTC"],
    ),
}

#: Every name a plan can read without binding it itself.
PREDEFINED_NAMES: frozenset[str] = frozenset(
    SAFE_BUILTINS + tuple(ALLOWED_EXCEPTIONS) + PLAN_GLOBALS + ("True", "False", "None")
)

#: Names a plan may not rebind: rebinding them would confuse reviewers and the checks.
RESERVED_NAMES: frozenset[str] = PREDEFINED_NAMES | {"printed"}


def plan_rules() -> list[str]:
    """Return the rules of the plan language, one human-readable line each.

    Generated from the same constants the compiler enforces, so a prompt that shows these
    lines tells a model exactly what the compiler accepts.
    """
    modules = ", ".join(f"`{name}`" for name in ALLOWED_MODULES)
    return [
        "Define exactly one top-level `def run(event, step):` with exactly those two parameters.",
        "The top level may hold only a docstring, imports, constant assignments (literals, no "
        "calls) and helper `def`s.",
        f"Imports: only {modules} (`import x`, `import x as y`, `from x import name`; "
        "no `*`). `datetime` is for values only: use `step.now()` for the current time.",
        "Builtins available: " + ", ".join(SAFE_BUILTINS) + ".",
        "Exceptions you may raise and catch: " + ", ".join(sorted(ALLOWED_EXCEPTIONS)) + ".",
        "Not allowed: class definitions, decorators, async/await, yield, global/nonlocal, with, "
        "match, try/finally, `except*`, bare `except:`, `except BaseException`, `del` of names "
        "or attributes, and augmented assignment to items (`d[k] += 1`: write `d[k] = d[k] + 1`).",
        "Names and attributes may not start with `_`; not available: "
        + ", ".join(sorted(FORBIDDEN_BUILTINS))
        + ".",
        "Strings: no `.format()`/`.format_map()`; use f-strings with literal format specs.",
        'Call tools only as `tools.NAME`, passed to a step: `step.do("name", tools.NAME, '
        "arg, key=value)`; call `tools.NAME(...)` directly only inside a helper or lambda given "
        "to a step.",
        "Step methods: " + ", ".join(f"step.{m}" for m in STEP_METHODS) + "; the first argument "
        "(except for `now`) is the step's name, a string literal or f-string.",
        "Durations: seconds (number) or text like '30 seconds', '2 hours', '1 day'. Retries: "
        "{'limit': int, 'delay': duration, 'backoff': "
        + "/".join(f"'{b}'" for b in BACKOFF_STRATEGIES)
        + "}.",
        "Loops, calls and big values are metered: a plan that runs too long or builds huge "
        "values fails with PlanBudgetExceeded.",
    ]


class PlanTransformer(RestrictingNodeTransformer):
    """RestrictedPython's transformer, reporting structured diagnostics.

    agentflow's own checks run first and explain most problems better; this transformer is the
    second line of defence, and it rewrites attribute, item and iteration access into calls to
    the guards that `guards.py` supplies.
    """

    def __init__(self) -> None:
        super().__init__()
        self.diagnostics: list[Diagnostic] = []

    def error(self, node: ast.AST, info: str) -> None:
        """Record a violation with its position instead of a formatted string."""
        self.diagnostics.append(
            Diagnostic(
                line=getattr(node, "lineno", 1) or 1,
                col=(getattr(node, "col_offset", 0) or 0) + 1,
                code="AF200",
                message=f"{info} (RestrictedPython rule)",
            )
        )

    def warn(self, node: ast.AST, info: str) -> None:
        """Drop RestrictedPython's warnings: they concern its `printed` idiom, not ours."""

    # -- Traversal ----------------------------------------------------------------------------
    # `ast.NodeTransformer` finds each visitor by name and walks children through generator
    # helpers; on a plan of a few hundred nodes that bookkeeping costs more than the checks.
    # The two methods below keep its semantics exactly (same visitors, same order, same
    # replacement rules) with a per-class dispatch table, and they skip RestrictedPython's
    # visitors that only walk a node's contents when the node has no contents (`Load`, `Add`,
    # ...): such a visit returns the node unchanged and has no side effect.

    _dispatch: dict[type[ast.AST], Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {}

    def visit(self, node: ast.AST) -> Any:
        """Dispatch `node` to its `visit_<Class>` method, as `ast.NodeVisitor.visit` does."""
        kind = type(node)
        method = self._dispatch.get(kind, _UNRESOLVED)
        if method is _UNRESOLVED:
            method = _resolve(type(self), kind)
        return node if method is None else method(self, node)

    def node_contents_visit(self, node: Any) -> Any:
        """Visit the children of `node`, replacing them as `ast.NodeTransformer` does."""
        dispatch = self._dispatch
        for field in node._fields:
            try:
                old = getattr(node, field)
            except AttributeError:
                continue
            if isinstance(old, list):
                new: list[Any] = []
                changed = False
                for value in old:
                    if isinstance(value, ast.AST):
                        kind = type(value)
                        method = dispatch.get(kind, _UNRESOLVED)
                        if method is _UNRESOLVED:
                            method = _resolve(type(self), kind)
                        if method is not None:
                            result = method(self, value)
                            if result is not value:
                                changed = True
                                if result is None:
                                    continue
                                if not isinstance(result, ast.AST):
                                    new.extend(result)
                                    continue
                            value = result
                    new.append(value)
                if changed:
                    old[:] = new
            elif isinstance(old, ast.AST):
                kind = type(old)
                method = dispatch.get(kind, _UNRESOLVED)
                if method is _UNRESOLVED:
                    method = _resolve(type(self), kind)
                if method is not None:
                    result = method(self, old)
                    if result is None:
                        delattr(node, field)
                    elif result is not old:
                        setattr(node, field, result)
        return node


PlanTransformer._dispatch = {}
_UNRESOLVED = object()


def _copy_locations(new_node: Any, old_node: Any) -> None:
    """RestrictedPython's `copy_locations`, without re-walking finished subtrees.

    RestrictedPython copies the position of `old_node` onto `new_node`, then runs
    `ast.fix_missing_locations(new_node)`, which walks every descendant of `new_node`: the
    whole, already transformed, operand of each `_getattr_`/`_getitem_`/`_getiter_` call it
    builds. Only the nodes it has just created lack positions, and a node that has all four
    positions only has positioned descendants (every node of the parsed tree does, and every
    node made by RestrictedPython or the meter is positioned as soon as it is attached), so
    `_fix` below stops at positioned nodes; otherwise it is `ast.fix_missing_locations`.
    """
    assert "lineno" in new_node._attributes
    new_node.lineno = old_node.lineno
    assert "end_lineno" in new_node._attributes
    new_node.end_lineno = old_node.end_lineno
    assert "col_offset" in new_node._attributes
    new_node.col_offset = old_node.col_offset
    assert "end_col_offset" in new_node._attributes
    new_node.end_col_offset = old_node.end_col_offset
    _fix(new_node, 1, 0, 1, 0)


def _fix(node: Any, lineno: Any, col_offset: Any, end_lineno: Any, end_col_offset: Any) -> None:
    # The per-node logic of `ast.fix_missing_locations` (Python 3.11-3.13).
    if "lineno" in node._attributes:
        attributes = node.__dict__
        if "lineno" not in attributes:
            node.lineno = lineno
        else:
            lineno = attributes["lineno"]
        if attributes.get("end_lineno") is None:
            node.end_lineno = end_lineno
        else:
            end_lineno = attributes["end_lineno"]
        if "col_offset" not in attributes:
            node.col_offset = col_offset
        else:
            col_offset = attributes["col_offset"]
        if attributes.get("end_col_offset") is None:
            node.end_col_offset = end_col_offset
        else:
            end_col_offset = attributes["end_col_offset"]
    for field in node._fields:
        value = getattr(node, field, None)
        for child in value if type(value) is list else (value,):
            if not isinstance(child, ast.AST):
                continue
            if "lineno" in child._attributes:
                attributes = child.__dict__
                if (
                    "lineno" in attributes
                    and "col_offset" in attributes
                    and attributes.get("end_lineno") is not None
                    and attributes.get("end_col_offset") is not None
                ):
                    continue  # positioned, and so is everything below it
            elif not child._fields:
                continue  # `Load`, `Add`, ...: nothing to position
            _fix(child, lineno, col_offset, end_lineno, end_col_offset)


def _with_fast_locations() -> None:
    """Run RestrictedPython's own visitors with `_copy_locations` as their location helper.

    The functions are RestrictedPython's code objects, unchanged, bound to a copy of its
    module namespace in which only `copy_locations` differs; RestrictedPython itself is not
    modified.
    """
    namespace = dict(vars(_rp_transformer))
    namespace["copy_locations"] = _copy_locations
    for name, function in vars(RestrictingNodeTransformer).items():
        if name in vars(PlanTransformer) or not isinstance(function, types.FunctionType):
            continue
        if "copy_locations" not in function.__code__.co_names:
            continue
        clone = types.FunctionType(
            function.__code__,
            namespace,
            function.__name__,
            function.__defaults__,
            function.__closure__,
        )
        clone.__kwdefaults__ = function.__kwdefaults__
        clone.__qualname__ = function.__qualname__
        clone.__doc__ = function.__doc__
        setattr(PlanTransformer, name, clone)


_with_fast_locations()


def _contents_only(self: Any, node: Any) -> Any:
    return self.node_contents_visit(node)


def _is_contents_only(method: Any) -> bool:
    """Whether `method` is exactly `return self.node_contents_visit(node)` (docstring aside)."""
    code = getattr(method, "__code__", None)
    reference = _contents_only.__code__
    return (
        code is not None
        and code.co_code == reference.co_code
        and code.co_names == reference.co_names
        and code.co_varnames == reference.co_varnames
        and code.co_argcount == reference.co_argcount
        and not code.co_freevars
    )


def _resolve(cls: type[PlanTransformer], kind: type[ast.AST]) -> Any:
    """The function that visits `kind` nodes for `cls`; None when the visit is a no-op."""
    method = getattr(cls, "visit_" + kind.__name__, None)
    if method is None:
        resolved: Any = cls.generic_visit  # RestrictedPython's: refuse unknown node types
    elif _is_contents_only(method):
        resolved = cls.node_contents_visit if kind._fields else None
    else:
        resolved = method
    cls._dispatch[kind] = resolved
    return resolved
