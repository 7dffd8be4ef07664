"""Public names that load their module on first use.

`agentflow`, `agentflow.runtime` and `agentflow.plan` name more than most processes use: the CLI
needs no store, a sandbox no pydantic. Each resolves its names with `exports`.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def load(module: str) -> ModuleType:
    """Import `module` with the cyclic garbage collector paused (as it was, afterwards).

    The engine's imports (SQLAlchemy, SQLModel, pydantic) build some hundred thousand objects
    that live as long as the process; collections in the middle of them find nothing to free,
    and cost a tenth of the import (about 35 ms of a fresh process's start).
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return importlib.import_module(module)
    finally:
        if paused:
            gc.enable()


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
        value = getattr(load(module), name)
        namespace[name] = value
        return value

    return resolve
