"""Figures of agentflow's import graph: cycles, arrows that point up, imports inside functions.

Run it from the repository root (`python scripts/import_graph.py`); it reads the source with
`ast` and imports nothing of agentflow. Imports under `if TYPE_CHECKING:` are left out of the
graph (they never run), imports inside functions are counted in it and listed on their own.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "agentflow"

# Lowest first; a module imports only from its own layer or from lower ones.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # `agentflow.cookbook` is package data (the recipes' index) kept in cookbook/, outside ROOT.
    (
        "core",
        (
            "errors",
            "states",
            "diagnostics",
            "lazy",
            "durations",
            "models",
            "plain",
            "examples",
            "telemetry",
            "checkpoints",
            "cookbook",
        ),
    ),
    ("plan/store", ("plan", "store")),
    ("runtime", ("runtime",)),
    (
        "facade",
        (
            "engine",
            "agent",
            "run",
            "reviews",
            "review.service",
            "review.context",
            "simulation",
            "tokens",
        ),
    ),
    ("planner", ("planner",)),
    (
        "edges",
        (
            "review",
            "cli",
            "demo",
            "testing",
            "integrations",
            "terminal",
            "server",
            "client",
            "mcp_server",
            "",
        ),
    ),
]
LOCAL_ALLOWED = {"agentflow.cli", "agentflow.testing"}


def module_name(path: Path) -> str:
    parts = ["agentflow", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    rest = module.removeprefix("agentflow").removeprefix(".")
    best, best_len = len(LAYERS) - 1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            hit = rest == prefix or rest.startswith(prefix + ".") or prefix == ""
            if hit and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    return best


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(tree: ast.Module, modules: set[str]) -> list[tuple[str, int, bool]]:
    """(imported agentflow module, line, inside a function) for each import that runs."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                visit(child, in_function)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("agentflow"):
                    found.append((alias.name, node.lineno, in_function))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agentflow"):
            base = node.module or ""
            targets = {f"{base}.{a.name}" for a in node.names} & modules or {base}
            found.extend((t, node.lineno, in_function) for t in sorted(targets))
        inner = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    """Pop Tarjan's stack down to `root`: one strongly connected component."""
    component = []
    while True:
        top = stack.pop()
        on_stack.discard(top)
        component.append(top)
        if top == root:
            return component


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = pop_component(stack, on_stack, node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def main() -> None:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in paths} | {"agentflow.cookbook"}
    graph: dict[str, set[str]] = defaultdict(set)
    local: list[str] = []
    upward: list[str] = []
    for path in paths:
        source = module_name(path)
        for target, line, in_function in imports(ast.parse(path.read_text()), modules):
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]
            if target == source:
                continue
            graph[source].add(target)
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            if in_function and source not in LOCAL_ALLOWED:
                local.append(f"{where} -> {target}")
            if layer_of(target) > layer_of(source):
                upward.append(
                    f"{where} {source} ({LAYERS[layer_of(source)][0]}) -> "
                    f"{target} ({LAYERS[layer_of(target)][0]})"
                )
    components = cycles(graph)
    edges = sum(len(v) for v in graph.values())
    print(f"modules: {len(modules)}, import edges between them: {edges}")
    print(f"cycles (strongly connected groups of modules): {len(components)}")
    for component in components:
        print(f"  {len(component)} modules: {', '.join(component)}")
    print(f"imports inside functions (outside cli.py and testing.py): {len(local)}")
    for item in local:
        print(f"  {item}")
    print(f"arrows that point up a layer: {len(upward)}")
    for item in upward:
        print(f"  {item}")


if __name__ == "__main__":
    main()
