"""Tool specifications: what the compiler knows about each tool a plan may use."""

from __future__ import annotations

import inspect
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The signature assumed for a tool whose real signature is unknown.
ANY_SIGNATURE = inspect.Signature(
    [
        inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
    ]
)


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the compiler sees it.

    Attributes:
        name: the name plans use, as in `tools.NAME`.
        signature: checked against literal arguments at compile time.
        doc: the tool's docstring (shown to models and reviewers).
        side_effects: whether calling it changes the world (conservatively True).
    """

    name: str
    signature: inspect.Signature = ANY_SIGNATURE
    doc: str = ""
    side_effects: bool = True
    fingerprint: tuple[str, bool, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Rendering a signature costs microseconds: do it once, for the plan cache's key.
        object.__setattr__(self, "fingerprint", (self.name, self.side_effects, str(self.signature)))

    @classmethod
    def from_callable(cls, name: str, fn: Callable[..., Any]) -> ToolSpec:
        """Describe `fn`; `fn.__agentflow_side_effects__` (default True) sets `side_effects`."""
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            signature = ANY_SIGNATURE
        return cls(
            name=name,
            signature=signature,
            doc=inspect.getdoc(fn) or "",
            side_effects=bool(getattr(fn, "__agentflow_side_effects__", True)),
        )

    @classmethod
    def unknown(cls, name: str) -> ToolSpec:
        """A tool known only by name: any arguments, assumed to have side effects."""
        return cls(name=name)


_SPEC_CACHE_SIZE = 4096
_spec_cache: OrderedDict[tuple[str, int], tuple[Callable[..., Any], ToolSpec]] = OrderedDict()
_spec_lock = threading.Lock()


def spec_for(name: str, tool: Callable[..., Any] | ToolSpec) -> ToolSpec:
    """Return the `ToolSpec` of a catalogue entry, memoising specs built from callables.

    The memo holds a reference to each callable, so its id cannot be reused while cached.
    """
    if isinstance(tool, ToolSpec):
        return tool
    key = (name, id(tool))
    with _spec_lock:
        hit = _spec_cache.get(key)
        if hit is not None and hit[0] is tool:
            _spec_cache.move_to_end(key)
            return hit[1]
    spec = ToolSpec.from_callable(name, tool)
    with _spec_lock:
        _spec_cache[key] = (tool, spec)
        while len(_spec_cache) > _SPEC_CACHE_SIZE:
            _spec_cache.popitem(last=False)
    return spec


def normalise_catalogue(
    tools: Mapping[str, Callable[..., Any] | ToolSpec] | None,
) -> dict[str, ToolSpec] | None:
    """Turn a catalogue of callables and/or specs into specs (None stays None: any tool)."""
    if tools is None:
        return None
    return {name: spec_for(name, tool) for name, tool in tools.items()}
