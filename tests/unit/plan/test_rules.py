"""Each rule of the plan language: a plan that breaks it (code, line, column), one that passes."""

from __future__ import annotations

import pytest

from agentflow.errors import PlanValidationError
from agentflow.plan import compile_plan
from tests.unit.plan.conftest import TOOLS, compiled, diagnostics_of

R = "def run(event, step):\n"

# (id, failing source, code, line, col)
FAILING = [
    ("syntax", R + "    return (\n", "AF001", 2, 12),
    ("null byte", R + "    return 1\x00\n", "AF002", 2, 1),
    ("no run", "def main(event, step):\n    return 1\n", "AF101", 1, 1),
    ("run signature", "def run(event):\n    return 1\n", "AF102", 1, 1),
    ("run twice", R + "    return 1\n" + R + "    return 2\n", "AF103", 3, 1),
    ("top-level loop", "for i in range(3):\n    pass\n" + R + "    return 1\n", "AF104", 1, 1),
    ("top-level call", "X = print('hi')\n" + R + "    return X\n", "AF105", 1, 5),
    ("class", "class A:\n    pass\n" + R + "    return 1\n", "AF110", 1, 1),
    ("async", "async def f():\n    pass\n" + R + "    return 1\n", "AF111", 1, 1),
    ("yield", R + "    yield 1\n", "AF112", 2, 5),
    ("global", "X = 1\n" + R + "    global X\n    return X\n", "AF113", 3, 5),
    ("with", R + "    with event:\n        pass\n", "AF114", 2, 5),
    (
        "decorator",
        "def d(f):\n    return f\n@d\ndef g():\n    return 1\n" + R + "    return g()\n",
        "AF115",
        3,
        2,
    ),
    ("del name", R + "    x = 1\n    del x\n", "AF116", 3, 9),
    (
        "except star",
        R + "    try:\n        pass\n    except* ValueError:\n        pass\n",
        "AF117",
        2,
        5,
    ),
    ("match", R + "    match event:\n        case 1:\n            pass\n", "AF118", 2, 5),
    ("aug item", R + "    d = {'a': 1}\n    d['a'] += 1\n", "AF119", 3, 5),
    ("underscore name", R + "    _x = 1\n", "AF120", 2, 5),
    ("dunder attribute", R + "    return event.__class__\n", "AF120", 2, 12),
    ("exec", R + "    exec('1')\n", "AF121", 2, 5),
    ("str.format", R + "    return '{}'.format(1)\n", "AF122", 2, 12),
    (
        "clock",
        "from datetime import datetime\n" + R + "    return datetime.now()\n",
        "AF122",
        3,
        12,
    ),
    ("gi_frame", R + "    g = (x for x in [1])\n    return g.gi_frame\n", "AF122", 3, 12),
    ("reserved", R + "    tools = 1\n", "AF123", 2, 5),
    ("undefined", R + "    return lenn([1])\n", "AF125", 2, 12),
    ("import os", "import os\n" + R + "    return 1\n", "AF130", 1, 1),
    ("import *", "from json import *\n" + R + "    return 1\n", "AF131", 1, 1),
    ("import hidden", "from json import decoder\n" + R + "    return 1\n", "AF132", 1, 1),
    ("bare except", R + "    try:\n        pass\n    except:\n        pass\n", "AF140", 4, 5),
    (
        "except BaseException",
        R + "    try:\n        pass\n    except BaseException:\n        pass\n",
        "AF141",
        4,
        12,
    ),
    ("finally", R + "    try:\n        pass\n    finally:\n        return 1\n", "AF143", 5, 9),
    (
        "except variable",
        R + "    e = ValueError\n    try:\n        pass\n    except e:\n        pass\n",
        "AF144",
        5,
        12,
    ),
    (
        "unknown tool",
        R + "    return step.do('x', tools.send_emial, to='a', subject='b')\n",
        "AF150",
        2,
        25,
    ),
    ("tools alias", R + "    t = tools\n    return t\n", "AF151", 2, 9),
    ("tool args", R + "    return step.do('x', tools.send_email, too='a')\n", "AF152", 2, 12),
    ("direct tool call", R + "    return tools.refund(1)\n", "AF153", 2, 12),
    ("step method", R + "    return step.sleeep('x', 5)\n", "AF160", 2, 12),
    ("step name missing", R + "    return step.sleep()\n", "AF161", 2, 12),
    ("duration", R + "    step.sleep('nap', '3 fortnights')\n", "AF163", 2, 23),
    (
        "retries key",
        R + "    step.do('r', tools.refund, 1, retries={'limit': 3, 'backof': 'linear'})\n",
        "AF164",
        2,
        56,
    ),
    (
        "backoff",
        R + "    step.do('r', tools.refund, 1, retries={'backoff': 'random'})\n",
        "AF164",
        2,
        55,
    ),
    ("sleep_until", R + "    step.sleep_until('u', 'next tuesday')\n", "AF165", 2, 27),
    ("wait without type", R + "    step.wait_for_event('w')\n", "AF166", 2, 5),
    ("now with args", R + "    step.now(1)\n", "AF167", 2, 5),
    ("f-string width", R + "    x = 1\n    return f'{x:>99999999}'\n", "AF170", 3, 12),
    ("f-string dynamic spec", R + "    x = 1\n    w = 5\n    return f'{x:>{w}}'\n", "AF170", 4, 12),
]

PASSING = [
    (
        "docstring, imports, constants, helpers",
        '"""Doc."""\nimport json\nfrom math import sqrt as root\n'
        'LIMIT = 3\nNAMES = ["a", LIMIT * 2]\n'
        "def helper(x):\n    return root(x)\n"
        + R
        + "    return json.dumps([helper(4.0), NAMES])\n",
    ),
    (
        "except Exception and allowed classes",
        "import json\n"
        + R
        + "    try:\n        json.loads('x')\n    except (json.JSONDecodeError, KeyError):\n"
        "        pass\n    except Exception as exc:\n        raise NonRetryableError(str(exc))\n",
    ),
    (
        "step calls",
        R + "    step.sleep('nap', '2 hours')\n    step.sleep_until('u', '2030-01-01T00:00:00Z')\n"
        "    step.wait_for_event('w', type='go', timeout='1 day')\n    t = step.now()\n"
        "    step.do('r', tools.refund, 1,\n"
        "            retries={'limit': 3, 'delay': '5 s', 'backoff': 'linear'})\n"
        "    step.map('m', tools.refund, [1, 2])\n"
        "    step.parallel('p', {'a': tools.list_orders})\n"
        "    return t\n",
    ),
    ("direct tool call in a lambda", R + "    return step.do('x', lambda: tools.refund(1))\n"),
    ("f-string specs", R + "    x = 1.5\n    return f'{x:>10.2f} {x!r}'\n"),
    ("shadowing an unavailable builtin", R + "    id = event['id']\n    return id\n"),
    (
        "del item and aug name",
        R + "    d = {'a': 1}\n    del d['a']\n    n = 1\n    n += 1\n    return n\n",
    ),
]


@pytest.mark.parametrize(
    ("source", "code", "line", "col"), [c[1:] for c in FAILING], ids=[c[0] for c in FAILING]
)
def test_rule_violation_is_reported_with_position(
    source: str, code: str, line: int, col: int
) -> None:
    found = [(d.code, d.line, d.col) for d in diagnostics_of(source)]
    assert (code, line, col) in found


@pytest.mark.parametrize("source", [c[1] for c in PASSING], ids=[c[0] for c in PASSING])
def test_valid_plan_compiles(source: str) -> None:
    plan = compiled(source)
    assert plan.sha256 and plan.summary is not None


def test_every_code_has_a_fix_hint_message() -> None:
    for _, source, code, _, _ in FAILING:
        messages = [d.message for d in diagnostics_of(source) if d.code == code]
        assert messages and all(len(m) > 15 for m in messages)


def test_multiple_problems_are_reported_at_once() -> None:
    source = (
        "import os\n"
        "class A:\n    pass\n" + R + "    _secret = 1\n"
        "    step.sleep('nap', 'forever')\n"
        "    return tools.send_emial(1)\n"
    )
    codes = {d.code for d in diagnostics_of(source)}
    assert {"AF130", "AF110", "AF120", "AF163", "AF150"} <= codes


def test_dynamic_step_name_is_a_warning_not_an_error() -> None:
    plan = compiled(R + "    n = 'x'\n    return step.do(n, tools.refund, 1)\n")
    assert [(w.code, w.line, w.severity) for w in plan.warnings] == [("AF162", 3, "warning")]


def test_unicode_identifiers_are_normalised_before_checks() -> None:
    # Python NFKC-normalises identifiers: fullwidth `ｅｘｅｃ` *is* `exec`.
    assert any(d.code == "AF121" for d in diagnostics_of(R + "    ｅｘｅｃ('1')\n"))
    # Fullwidth low line is no identifier character at all: a syntax error, still a diagnostic.
    assert diagnostics_of(R + "    return ＿＿import__('os')\n")[0].code == "AF001"
    assert any(d.code == "AF120" for d in diagnostics_of(R + "    return _＿import__('os')\n"))


def test_open_catalogue_accepts_any_tool() -> None:
    plan = compile_plan(R + "    return step.do('x', tools.anything, 1, 2, k=3)\n", None)
    assert plan.tools["anything"].side_effects is True


def test_non_string_source_is_a_diagnostic() -> None:
    with pytest.raises(PlanValidationError) as info:
        compile_plan(b"def run(event, step): pass", TOOLS)  # type: ignore[arg-type]
    assert info.value.diagnostics[0].code == "AF002"
