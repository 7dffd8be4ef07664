"""A faster traversal for RestrictedPython's transformer, with the same result.

Why: on a plan of about 100 lines, RestrictedPython's stock traversal (`ast.NodeTransformer`
finding each visitor by name and walking children through generator helpers, and
`copy_locations` re-walking every finished subtree with `ast.fix_missing_locations`) took
longer than every agentflow check together. Measured on `bench/compile.py`'s 95-line plan
(Python 3.11, RestrictedPython 9.0, best of 300): the restricting pass with its meter rewrite
takes 2.2 ms stock (RestrictedPython's traversal, then the meter rewrite as a second pass) and
0.9 ms here, so a cold `compile_plan` takes 2.7 ms instead of 4.1 ms.

How, without modifying RestrictedPython:

- `FastRestrictingTransformer.visit` and `node_contents_visit` keep `ast.NodeTransformer`'s
  semantics (same visitors, same order, same replacement rules) with a per-class dispatch table,
  and skip RestrictedPython's visitors that only walk a node's contents when the node has none
  (`Load`, `Add`, ...): such a visit returns the node unchanged and has no side effect.
- RestrictedPython's visitors that call `copy_locations` run as clones of their own code objects,
  bound to a copy of RestrictedPython's module namespace in which only `copy_locations` is
  `copy_locations_pruned`, which stops at positioned subtrees.

Both rely on RestrictedPython's internals (its module globals, which visitors only walk
contents), so they are verified against one RestrictedPython version, `VERIFIED_AGAINST`:
`tests/unit/plan/test_traversal.py` fails on any other, and `test_transform_equivalence.py`
checks the result tree and diagnostics against the stock traversal to re-verify it.
"""

from __future__ import annotations

import ast
import types
from typing import Any

from RestrictedPython import transformer as _rp_transformer
from RestrictedPython.transformer import RestrictingNodeTransformer

#: The RestrictedPython release this traversal was checked to be equivalent to.
VERIFIED_AGAINST = "9.0"

_UNRESOLVED = object()


class FastRestrictingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's transformer with the faster traversal; subclass it as you would it."""

    _dispatch: dict[type[ast.AST], Any] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {}

    def visit(self, node: ast.AST) -> Any:
        """Dispatch `node` to its `visit_<Class>` method, as `ast.NodeVisitor.visit` does."""
        method = _visitor(type(self), type(node))
        return node if method is None else method(self, node)

    def node_contents_visit(self, node: Any) -> Any:
        """Visit the children of `node`, replacing them as `ast.NodeTransformer` does."""
        for field in node._fields:
            try:
                old = getattr(node, field)
            except AttributeError:
                continue
            if isinstance(old, list):
                self._visit_list(old)
            elif isinstance(old, ast.AST):
                method = _visitor(type(self), type(old))
                if method is None:
                    continue
                result = method(self, old)
                if result is None:
                    delattr(node, field)
                elif result is not old:
                    setattr(node, field, result)
        return node

    def _visit_list(self, old: list[Any]) -> None:
        new: list[Any] = []
        changed = False
        for value in old:
            method = _visitor(type(self), type(value)) if isinstance(value, ast.AST) else None
            result = value if method is None else method(self, value)
            if result is value:
                new.append(value)
                continue
            changed = True
            if isinstance(result, ast.AST):
                new.append(result)
            elif result is not None:
                new.extend(result)
        if changed:
            old[:] = new


def _visitor(cls: type[FastRestrictingTransformer], kind: type[Any]) -> Any:
    method = cls._dispatch.get(kind, _UNRESOLVED)
    return _resolve(cls, kind) if method is _UNRESOLVED else method


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


def _resolve(cls: type[FastRestrictingTransformer], kind: type[ast.AST]) -> Any:
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


def copy_locations_pruned(new_node: Any, old_node: Any) -> None:
    """RestrictedPython's `copy_locations`, without re-walking finished subtrees.

    RestrictedPython copies the position of `old_node` onto `new_node`, then runs
    `ast.fix_missing_locations(new_node)`, which walks every descendant of `new_node`: the
    whole, already transformed, operand of each `_getattr_`/`_getitem_`/`_getiter_` call it
    builds. Only the nodes it has just created lack positions, and a node that has all four
    positions only has positioned descendants (every node of the parsed tree does, and every
    node made by RestrictedPython or the meter is positioned as soon as it is attached), so
    `_fix` below stops at positioned nodes; otherwise it is `ast.fix_missing_locations`.
    """
    for name in ("lineno", "end_lineno", "col_offset", "end_col_offset"):
        assert name in new_node._attributes
        setattr(new_node, name, getattr(old_node, name))
    _fix(new_node, (1, 0, 1, 0))


_POSITION = ("lineno", "col_offset", "end_lineno", "end_col_offset")


def _fix(node: Any, inherited: tuple[Any, Any, Any, Any]) -> None:
    # The per-node logic of `ast.fix_missing_locations` (Python 3.11-3.13).
    position = _own_position(node, inherited) if "lineno" in node._attributes else inherited
    for field in node._fields:
        value = getattr(node, field, None)
        for child in value if type(value) is list else (value,):
            if isinstance(child, ast.AST) and _needs_fixing(child):
                _fix(child, position)


def _own_position(node: Any, inherited: tuple[Any, Any, Any, Any]) -> tuple[Any, Any, Any, Any]:
    attributes = node.__dict__
    position = []
    for name, default in zip(_POSITION, inherited, strict=True):
        # `lineno`/`col_offset` count as set when present, the end positions when not None.
        value = attributes.get(name) if name in attributes else None
        if value is None and (name.startswith("end_") or name not in attributes):
            setattr(node, name, default)
            value = default
        position.append(value)
    return position[0], position[1], position[2], position[3]


def _needs_fixing(child: Any) -> bool:
    if "lineno" not in child._attributes:
        return bool(child._fields)  # `Load`, `Add`, ...: nothing to position
    attributes = child.__dict__
    positioned = (
        "lineno" in attributes
        and "col_offset" in attributes
        and attributes.get("end_lineno") is not None
        and attributes.get("end_col_offset") is not None
    )
    return not positioned  # a positioned node has only positioned descendants


def _with_pruned_locations(cls: type[RestrictingNodeTransformer]) -> None:
    """Give `cls` clones of RestrictedPython's visitors that use `copy_locations_pruned`.

    The clones are RestrictedPython's code objects, unchanged, bound to a copy of its module
    namespace in which only `copy_locations` differs; RestrictedPython itself is not modified.
    """
    namespace = dict(vars(_rp_transformer))
    namespace["copy_locations"] = copy_locations_pruned
    for name, function in vars(RestrictingNodeTransformer).items():
        if name in vars(cls) or not isinstance(function, types.FunctionType):
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
        setattr(cls, name, clone)


_with_pruned_locations(FastRestrictingTransformer)
