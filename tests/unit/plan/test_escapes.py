"""Known sandbox escapes and resource exhaustion: refused at compile time or stopped at run time."""

from __future__ import annotations

import time

import pytest

from agentflow.errors import AgentflowError, PlanBudgetExceeded, PlanValidationError
from agentflow.plan import compile_plan
from tests.unit.plan.conftest import TOOLS, FakeStep, Suspend, run_plan

R = "def run(event, step):\n"

# Refused by the compiler.
COMPILE_TIME = {
    "subclass walk": R + "    return ().__class__.__bases__[0].__subclasses__()\n",
    "format traversal": R + "    return '{0.__class__}'.format(event)\n",
    "str.format unbound": R + "    return str.format('{0.__class__}', event)\n",
    "format_map": R + "    return '{a}'.format_map({'a': 1})\n",
    "format builtin": R + "    return format(event, 'x')\n",
    "generator frame": R + "    g = (x for x in [1])\n    return g.gi_frame.f_globals\n",
    "traceback frame": R + "    try:\n        1 / 0\n    except Exception as e:\n"
    "        return e.__traceback__.tb_frame\n",
    "tb_frame attr": R
    + "    try:\n        1 / 0\n    except Exception as e:\n        return e.tb_frame\n",
    "f_back": R + "    return event.f_back\n",
    "co_code": R + "    return run.co_code\n",
    "getattr builtin": R + "    return getattr(event, '__class__')\n",
    "decorator": "def d(f):\n    return f\n@d\ndef g():\n    pass\n" + R + "    return 1\n",
    "class def": "class A:\n    pass\n" + R + "    return A()\n",
    "metaclass": "class A(metaclass=type):\n    pass\n" + R + "    return 1\n",
    "__del__": "def __del__(self):\n    pass\n" + R + "    return 1\n",
    "posonly guard shadow": "def f(_getattr_, /):\n    return 1\n" + R + "    return f(1)\n",
    "walrus guard": R + "    return (_getiter_ := 1)\n",
    "walrus underscore": R + "    return (_x := 1)\n",
    "import os alias": "import os as o\n" + R + "    return o\n",
    "import subprocess": "import subprocess\n" + R + "    return 1\n",
    "from json import builtins": "from json import __builtins__\n" + R + "    return 1\n",
    "from os import path": "from os import path\n" + R + "    return 1\n",
    "relative import": "from . import x\n" + R + "    return 1\n",
    "fullwidth exec": R + "    ｅｘｅｃ('import os')\n",
    "fullwidth eval": R + "    return ｅｖａｌ('1')\n",
    "module dict": "import math\n" + R + "    return math.__dict__\n",
    "tools class": R + "    return tools.__class__\n",
    "step dict": R + "    return step.__dict__\n",
    "event init globals": R + "    return event.__init__.__globals__\n",
    "catch BaseException": R
    + "    try:\n        step.sleep('s', 1)\n    except BaseException:\n        return 1\n",
    "bare except swallow": R
    + "    try:\n        step.sleep('s', 1)\n    except:\n        return 1\n",
    "finally return": R + "    try:\n        step.sleep('s', 1)\n    finally:\n        return 1\n",
    "finally raise": R
    + "    try:\n        step.sleep('s', 1)\n    finally:\n        raise ValueError()\n",
    "catch SystemExit": R
    + "    try:\n        pass\n    except (ValueError, SystemExit):\n        pass\n",
    "mro": R + "    return ValueError.mro()\n",
    "global rebinding": "X = 1\n" + R + "    global X\n    X = 2\n",
    "async": R + "    async def f():\n        await f()\n    return 1\n",
    "exec via fstring": R + "    return f'{exec}'\n",
    "tools iterate": R + "    return [t for t in tools]\n",
    "tools stored": R + "    box = [tools]\n    return box\n",
    "type builtin": R + "    return type(event)\n",
    "vars builtin": R + "    return vars(event)\n",
    "open file": R + "    return open('/etc/passwd').read()\n",
    "dunder import": R + "    return __import__('os')\n",
    "lambda default guard": R + "    f = lambda g=_getattr_: g\n    return f\n",
    "replace clock": "from datetime import datetime\n" + R + "    datetime.now = 1\n",
    "huge fstring width": R + "    return f'{1:>1000000000}'\n",
    "dynamic fstring width": R + "    n = 10**9\n    return f'{1:>{n}}'\n",
}

# Compile, then stopped by execute() with a clear error.
RUN_TIME = {
    "while True": (R + "    while True:\n        pass\n", PlanBudgetExceeded),
    "10**10**10": (R + "    return 10**10**10\n", PlanBudgetExceeded),
    "str repetition": (R + "    return 'a' * 10**10\n", PlanBudgetExceeded),
    "list repetition": (R + "    return [0] * 10**10\n", PlanBudgetExceeded),
    "huge range": (R + "    for i in range(10**12):\n        pass\n", PlanBudgetExceeded),
    "nested comprehensions": (
        R + "    return [[[1 for a in range(1000)] for b in range(1000)] for c in range(1000)]\n",
        PlanBudgetExceeded,
    ),
    "recursion": ("def f(n):\n    return f(n + 1)\n" + R + "    return f(0)\n", PlanBudgetExceeded),
    "lambda recursion": (R + "    f = lambda g: g(g)\n    return f(f)\n", RecursionError),
    "shift": (R + "    x = 1\n    return x << 10**9\n", PlanBudgetExceeded),
    "pow builtin": (R + "    return pow(2, 10**10)\n", PlanBudgetExceeded),
    "string doubling": (
        R + "    s = 'ab'\n    for i in range(100):\n        s = s + s\n",
        PlanBudgetExceeded,
    ),
    "inplace doubling": (
        R + "    s = [1]\n    for i in range(100):\n        s += s\n",
        PlanBudgetExceeded,
    ),
    "extend doubling": (
        R + "    s = [1]\n    for i in range(100):\n        s.extend(s)\n",
        PlanBudgetExceeded,
    ),
    "int squaring": (
        R + "    x = 3\n    for i in range(40):\n        x = x * x\n",
        PlanBudgetExceeded,
    ),
    "join blow-up": (
        R + "    s = 'x' * 100000\n    return ','.join([s] * 100000)\n",
        PlanBudgetExceeded,
    ),
    "percent width": (R + "    return '%999999999d' % 1\n", PlanBudgetExceeded),
    "ljust": (R + "    return 'a'.ljust(10**10)\n", PlanBudgetExceeded),
    "replace blow-up": (
        R + "    s = 'a' * 2000\n    return s.replace('a', s)\n",
        PlanBudgetExceeded,
    ),
    "to_bytes": (R + "    n = 1\n    return n.to_bytes(10**10, 'big')\n", PlanBudgetExceeded),
    "factorial": ("import math\n" + R + "    return math.factorial(10**7)\n", PlanBudgetExceeded),
    "sum of lists": (R + "    return sum([[0] * 1000] * 100000, [])\n", PlanBudgetExceeded),
    "repr of shared structure": (
        R + "    x = [[0] * 1000000] * 1000000\n    return repr(x)\n",
        PlanBudgetExceeded,
    ),
    "fstring of shared structure": (
        R + "    x = [[0] * 1000000] * 1000000\n    return f'{x}'\n",
        PlanBudgetExceeded,
    ),
    "json indent bomb": (
        "import json\n" + R + "    return json.dumps([1], indent=10**9)\n",
        ValueError,
    ),
    "mutate module": ("import json\n" + R + "    json.dumps = None\n", TypeError),
    "mutate math": ("import math\n" + R + "    math.pi = 3\n", TypeError),
    "mutate class": (
        "from datetime import timedelta\n" + R + "    timedelta.extra = 1\n",
        TypeError,
    ),
    "clock via alias": (
        "import datetime\n" + R + "    d = datetime.date\n    return d.today()\n",
        AttributeError,
    ),
    "step internals via alias": (R + "    s = step\n    return s.secret\n", AttributeError),
    "tool attributes": (R + "    f = tools.send_email\n    return f.secret\n", AttributeError),
    "write to tool function": (R + "    f = tools.send_email\n    f.x = 1\n", TypeError),
    "round huge ndigits": (R + "    return round(5, -10**9)\n", ValueError),
}


@pytest.mark.parametrize("source", list(COMPILE_TIME.values()), ids=list(COMPILE_TIME))
def test_escape_is_refused_at_compile_time(source: str) -> None:
    with pytest.raises(PlanValidationError) as info:
        compile_plan(source, TOOLS)
    assert info.value.diagnostics


@pytest.mark.parametrize(("source", "error"), list(RUN_TIME.values()), ids=list(RUN_TIME))
def test_escape_is_stopped_at_run_time(source: str, error: type[BaseException]) -> None:
    plan = compile_plan(source, TOOLS)
    started = time.perf_counter()
    with pytest.raises(error) as info:
        plan.execute(None, FakeStep(), TOOLS)
    assert time.perf_counter() - started < 2.0
    if error is PlanBudgetExceeded:
        assert "budget exceeded" in str(info.value) and "max_" in str(info.value)
        assert isinstance(info.value, AgentflowError) and info.value.line is not None
    # The process stays healthy: an ordinary plan still runs.
    assert run_plan(R + "    return sum([1, 2, 3])\n") == 6


def test_corpus_is_large_enough() -> None:
    assert len(COMPILE_TIME) + len(RUN_TIME) >= 40


def test_budget_signal_cannot_be_caught_by_plan_code() -> None:
    source = (
        R + "    n = 0\n    try:\n        while True:\n            n = n + 1\n"
        "    except Exception:\n        return n\n"
    )
    with pytest.raises(PlanBudgetExceeded):
        compile_plan(source, TOOLS).execute(None, FakeStep(), TOOLS)


def test_runtime_suspension_signal_propagates_unchanged() -> None:
    source = (
        R + "    try:\n        step.sleep('nap', '1 hour')\n"
        "    except Exception:\n        return 'swallowed'\n"
        "    return 'after'\n"
    )
    with pytest.raises(Suspend):
        compile_plan(source, TOOLS).execute(None, FakeStep(suspend_on_sleep=True), TOOLS)


def test_budget_is_fresh_for_each_execution() -> None:
    from agentflow.plan import PlanLimits

    plan = compile_plan(
        R + "    for i in range(600):\n        pass\n    return 1\n",
        TOOLS,
        limits=PlanLimits(max_ticks=1000),
    )
    for _ in range(3):
        assert plan.execute(None, FakeStep(), TOOLS) == 1
