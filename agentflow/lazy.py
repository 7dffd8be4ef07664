"""Public names that load their module on first use.

`agentflow`, `agentflow.runtime` and `agentflow.plan` name more than most processes use: the CLI
needs no store, a sandbox no pydantic. Each resolves its names with `exports`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(
    namespace: dict[str, Any], package: str, names: Mapping[str, str]
) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each name in `names` comes from the module named.

    A name, once resolved, is kept in the package's `namespace` (the next lookup is a plain one).
    """

    def resolve(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return resolve
