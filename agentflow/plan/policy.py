"""What the plan language allows: names, modules, attributes, step methods and retries.

Every allow-list and deny-list lives here, so the compiler, the runtime guards and the
human-readable rules (`plan_rules`) are generated from one source of truth.
"""

from __future__ import annotations

import datetime
import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from RestrictedPython.transformer import INSPECT_ATTRIBUTES

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


@dataclass(frozen=True)
class PlanPolicy:
    """What plan code may use: the allow-lists `compile_plan` enforces and `plan_rules` states.

    The default, `DEFAULT_POLICY`, is the whole plan language. A policy may only narrow it (fewer
    builtins, exceptions or modules); the compiler refuses what it leaves out, and so does the
    plan's namespace when it runs:

    ```python
    no_json = PlanPolicy(modules=("math", "datetime"))
    plan = compile_plan(source, tools, policy=no_json)   # `import json` is an error
    prompt_rules = plan_rules(no_json)
    ```

    Attributes:
        builtins: the builtins plans may call, a subset of `SAFE_BUILTINS`.
        exceptions: the exception classes plans may raise and catch, a subset of
            `ALLOWED_EXCEPTIONS`.
        modules: the modules plans may import, a subset of `ALLOWED_MODULES`' names; each
            exposes the attributes `ALLOWED_MODULES` lists for it.

    Raises:
        ValueError: a list names something outside the plan language.
    """

    builtins: tuple[str, ...] = SAFE_BUILTINS
    exceptions: tuple[str, ...] = BUILTIN_EXCEPTIONS + AGENTFLOW_EXCEPTIONS
    modules: tuple[str, ...] = tuple(ALLOWED_MODULES)

    def __post_init__(self) -> None:
        for what, chosen, allowed in (
            ("builtins", self.builtins, SAFE_BUILTINS),
            ("exceptions", self.exceptions, ALLOWED_EXCEPTIONS),
            ("modules", self.modules, ALLOWED_MODULES),
        ):
            unknown = sorted(set(chosen) - set(allowed))
            if unknown:
                raise ValueError(
                    f"PlanPolicy.{what} may only narrow the plan language; not in it: "
                    + ", ".join(unknown)
                )

    @cached_property
    def predefined_names(self) -> frozenset[str]:
        """Every name a plan can read without binding it itself."""
        return frozenset(self.builtins + self.exceptions + PLAN_GLOBALS + ("True", "False", "None"))

    def module_attributes(self, module: str) -> Mapping[str, Any] | None:
        """The attributes `module` exposes to plans; None when plans may not import it."""
        return ALLOWED_MODULES[module] if module in self.modules else None


#: The whole plan language.
DEFAULT_POLICY = PlanPolicy()


def plan_rules(policy: PlanPolicy | None = None) -> list[str]:
    """Return the rules of the plan language, one human-readable line each.

    Generated from the policy the compiler enforces (`DEFAULT_POLICY` unless one is given), so
    a prompt that shows these lines tells a model exactly what the compiler accepts.
    """
    policy = policy or DEFAULT_POLICY
    modules = ", ".join(f"`{name}`" for name in policy.modules)
    return [
        "Define exactly one top-level `def run(event, step):` with exactly those two parameters.",
        "The top level may hold only a docstring, imports, constant assignments (literals, no "
        "calls) and helper `def`s.",
        f"Imports: only {modules} (`import x`, `import x as y`, `from x import name`; "
        "no `*`). `datetime` is for values only: use `step.now()` for the current time.",
        "Builtins available: " + ", ".join(policy.builtins) + ".",
        "Exceptions you may raise and catch: " + ", ".join(sorted(policy.exceptions)) + ".",
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
