"""`load_plan`: compiled plans cached by the SHA-256 of their source and their tool catalogue.

The runtime reloads a run's plan on every activation; with the cache that costs a hash of
the source, a cheap fingerprint of the catalogue and a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from agentflow.plan.catalogue import ToolSpec, spec_for
from agentflow.plan.compiler import CompiledPlan, compile_plan
from agentflow.plan.limits import PlanLimits

#: How many compiled plans stay cached (least recently used ones are dropped).
CACHE_SIZE = 512


class PlanCache:
    """A bounded, thread-safe LRU cache of compiled plans."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, CompiledPlan] = OrderedDict()
        self._lock = threading.Lock()

    def load(
        self,
        source: str,
        tools: Mapping[str, Callable[..., Any] | ToolSpec] | None = None,
        *,
        limits: PlanLimits | None = None,
    ) -> CompiledPlan:
        """Return the compiled plan for `source`, compiling it on a miss.

        Raises:
            PlanValidationError: the plan is invalid (never cached).
        """
        if isinstance(source, str):
            digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()
        else:
            return compile_plan(source, tools, limits=limits)
        key = (digest, fingerprint(tools), limits)
        with self._lock:
            plan = self._entries.get(key)
            if plan is not None:
                self._entries.move_to_end(key)
                return plan
        plan = compile_plan(source, tools, limits=limits)
        with self._lock:
            self._entries[key] = plan
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return plan

    def clear(self) -> None:
        """Forget every cached plan."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def fingerprint(tools: Mapping[str, Callable[..., Any] | ToolSpec] | None) -> Hashable:
    """A cheap, hashable identity of a tool catalogue: names, side effects, signatures."""
    if tools is None:
        return None
    return tuple(sorted(spec_for(name, tool).fingerprint for name, tool in tools.items()))


default_cache = PlanCache()


def load_plan(
    source: str,
    tools: Mapping[str, Callable[..., Any] | ToolSpec] | None = None,
    *,
    limits: PlanLimits | None = None,
) -> CompiledPlan:
    """`compile_plan` through the process-wide cache (see `PlanCache.load`)."""
    return default_cache.load(source, tools, limits=limits)
