"""A parsed plan prepared for analysis: parents, bindings, imports, and a diagnostics list."""

from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentflow.diagnostics import Diagnostic
from agentflow.plan.catalogue import ToolSpec
from agentflow.plan.policy import DEFAULT_POLICY, PlanPolicy

_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_LOOP_NODES = (
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


@dataclass
class PlanContext:
    """Everything the checks and the summary share about one plan's syntax tree.

    Attributes:
        tree: the module as parsed (never transformed).
        tools: the tool catalogue, or None when any `tools.NAME` is accepted.
        policy: what the plan may use.
        nodes: every node, depth-first (built without recursion), except the shared
            field-less markers (`Load`, `Store`, operators), which carry nothing to check.
        parents: each node's parent (markers aside).
        run: the top-level `run` function, if there is one.
        functions: top-level helper functions by name (including `run`).
        module_aliases: local name -> allowed module, from `import x [as y]`.
        from_imports: local name -> (module, attribute), from `from x import y [as z]`.
        bound: every name the plan binds anywhere.
        imports: the `import` and `from ... import` statements, depth-first.
        tool_references: every `tools.NAME` attribute node, depth-first.
        diagnostics: problems found so far.
    """

    tree: ast.Module
    tools: Mapping[str, ToolSpec] | None
    policy: PlanPolicy = DEFAULT_POLICY
    nodes: list[ast.AST] = field(default_factory=list)
    parents: dict[ast.AST, ast.AST] = field(default_factory=dict)
    run: ast.FunctionDef | None = None
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    module_aliases: dict[str, str] = field(default_factory=dict)
    from_imports: dict[str, tuple[str, str]] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)
    imports: list[ast.Import | ast.ImportFrom] = field(default_factory=list)
    tool_references: list[ast.Attribute] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    def report(
        self, node: ast.AST | None, code: str, message: str, *, warning: bool = False
    ) -> None:
        """Record a diagnostic at `node` (line 1, col 1 when there is no node)."""
        line = getattr(node, "lineno", 1) or 1
        col = (getattr(node, "col_offset", 0) or 0) + 1
        severity = "warning" if warning else "error"
        self.diagnostics.append(
            Diagnostic(line=line, col=col, code=code, message=message, severity=severity)
        )

    def enclosing_function(self, node: ast.AST) -> ast.AST | None:
        """The nearest `def` or `lambda` around `node`, or None at module level."""
        current = self.parents.get(node)
        while current is not None and not isinstance(current, _FUNCTION_NODES):
            current = self.parents.get(current)
        return current

    def in_loop(self, node: ast.AST) -> bool:
        """Whether `node` sits lexically in a loop or comprehension of its own function."""
        child, current = node, self.parents.get(node)
        while current is not None and not isinstance(current, _FUNCTION_NODES):
            if isinstance(current, _LOOP_NODES):
                if isinstance(current, ast.For | ast.AsyncFor) and child is current.iter:
                    pass  # the iterable is evaluated once
                else:
                    return True
            child, current = current, self.parents.get(current)
        return False


def _bind_name(ctx: PlanContext, node: Any) -> None:
    if type(node.ctx) is not ast.Load:
        ctx.bound.add(node.id)


def _bind_arg(ctx: PlanContext, node: Any) -> None:
    ctx.bound.add(node.arg)


def _bind_definition(ctx: PlanContext, node: Any) -> None:
    ctx.bound.add(node.name)


def _bind_handler(ctx: PlanContext, node: Any) -> None:
    ctx.bound.add(node.name or "")


def _bind_import(ctx: PlanContext, node: Any) -> None:
    ctx.imports.append(node)
    for alias in node.names:
        local = alias.asname or alias.name.split(".")[0]
        ctx.bound.add(local)
        ctx.module_aliases[local] = alias.name


def _bind_import_from(ctx: PlanContext, node: Any) -> None:
    ctx.imports.append(node)
    for alias in node.names:
        local = alias.asname or alias.name
        ctx.bound.add(local)
        ctx.from_imports[local] = (node.module or "", alias.name)


def _note_tool_reference(ctx: PlanContext, node: Any) -> None:
    value = node.value
    if type(value) is ast.Name and value.id == "tools":
        ctx.tool_references.append(node)


#: What `build_context` records of each node that binds a name (or references a tool).
_BINDERS: dict[type[ast.AST], Callable[[PlanContext, Any], None]] = {
    ast.Name: _bind_name,
    ast.arg: _bind_arg,
    ast.FunctionDef: _bind_definition,
    ast.AsyncFunctionDef: _bind_definition,
    ast.ClassDef: _bind_definition,
    ast.ExceptHandler: _bind_handler,
    ast.Import: _bind_import,
    ast.ImportFrom: _bind_import_from,
    ast.Attribute: _note_tool_reference,  # not a binding: indexed when it is `tools.NAME`
}


def _is_marker(kind: type) -> bool:
    return issubclass(kind, ast.AST) and not kind._fields and not kind._attributes


#: Field-less, position-less node types (`Load`, `Store`, `Add`, `Not`, `Eq`, ...): shared
#: markers the parser reuses everywhere, with nothing to check and no parent of their own.
_MARKERS = frozenset(k for k in vars(ast).values() if isinstance(k, type) and _is_marker(k))


def build_context(
    tree: ast.Module, tools: Mapping[str, ToolSpec] | None, policy: PlanPolicy = DEFAULT_POLICY
) -> PlanContext:
    """Index `tree` once, without recursion (deeply nested input must not overflow)."""
    ctx = PlanContext(tree=tree, tools=tools, policy=policy)
    nodes = ctx.nodes
    parents = ctx.parents
    pending: list[ast.AST] = [tree]
    pop = pending.pop
    push = pending.append
    markers = _MARKERS
    binders = _BINDERS
    node_type = ast.AST
    while pending:
        node = pop()
        nodes.append(node)
        # `ast.iter_child_nodes`, inlined: children in field order, pushed on the stack.
        for name in node._fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for child in value:
                    if type(child) not in markers and isinstance(child, node_type):
                        parents[child] = node
                        push(child)
            elif type(value) not in markers and isinstance(value, node_type):
                parents[value] = node
                push(value)
        index = binders.get(type(node))
        if index is not None:
            index(ctx, node)
    _index_functions(ctx)
    return ctx


def _index_functions(ctx: PlanContext) -> None:
    for stmt in ctx.tree.body:
        if isinstance(stmt, ast.FunctionDef):
            ctx.functions.setdefault(stmt.name, stmt)
            if stmt.name == "run" and ctx.run is None:
                ctx.run = stmt


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ` Did you mean 'x'?` for the closest candidate, or an empty string."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
