"""Tools: host functions that plans may call through `step.do`, one registry per engine."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError, validate_call

from agentflow.errors import ToolArgumentsError, ToolNotAllowed
from agentflow.runtime.scope import current_scope


@dataclass(frozen=True)
class RegisteredTool:
    """A host function registered with `@engine.tool`."""

    name: str
    fn: Callable[..., Any]
    side_effects: bool
    signature: inspect.Signature
    doc: str

    def check_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raise ToolArgumentsError when the arguments cannot bind to the signature."""
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ToolArgumentsError(f"bad arguments for tool {self.name!r}: {exc}") from None


class ToolHandle:
    """What a plan sees as `tools.NAME`: callable only while a step runs it."""

    __slots__ = ("_validated", "name", "tool")

    def __init__(self, tool: RegisteredTool) -> None:
        self.name = tool.name
        self.tool = tool
        self._validated = validate_call(tool.fn)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the tool inside the step attempt that may call it, with checked arguments."""
        current_scope(self.name)
        self.tool.check_arguments(args, kwargs)

        # An `async def` tool returns an awaitable: the step must checkpoint its value, so it is
        # awaited here, in a fresh loop, or in a helper thread when this thread already runs one.
        async def settle(awaitable: Any) -> Any:
            return await awaitable

        def in_helper_thread(awaitable: Any) -> Any:
            box: dict[str, Any] = {}

            def target() -> None:
                try:
                    box["value"] = asyncio.run(settle(awaitable))
                except BaseException as exc:
                    box["error"] = exc

            helper = threading.Thread(target=target, name=f"agentflow-tool-{self.name}")
            helper.start()
            helper.join()
            if "error" in box:
                raise box["error"]
            return box["value"]

        try:
            result = self._validated(*args, **kwargs)
            if inspect.isawaitable(result):
                import asyncio  # only async tools need it: not at import

                try:
                    asyncio.get_running_loop()
                except RuntimeError:
                    return asyncio.run(settle(result))
                return in_helper_thread(result)
            return result
        except ValidationError as exc:
            if exc.title in (self.tool.fn.__name__, self.tool.fn.__qualname__):
                raise ToolArgumentsError(
                    f"bad arguments for tool {self.name!r}: {_short(exc)}"
                ) from None
            raise

    @property
    def tool_name(self) -> str:
        """The tool's registered name (what a step's input hash records)."""
        return self.name

    def __repr__(self) -> str:
        return f"<tool {self.name}>"


def _short(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()))
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts)


class ToolRegistry:
    """Every tool an engine knows, by name."""

    def __init__(self) -> None:
        self._tools: dict[str, RegisteredTool] = {}

    def register(
        self, fn: Callable[..., Any], *, name: str | None = None, side_effects: bool = True
    ) -> RegisteredTool:
        """Register `fn` under `name` (default: its own name)."""
        tool_name = name or fn.__name__
        if not tool_name.isidentifier() or tool_name.startswith("_"):
            raise ValueError(f"tool name {tool_name!r} must be an identifier not starting with _")
        fn.__agentflow_side_effects__ = side_effects  # type: ignore[attr-defined]
        tool = RegisteredTool(
            name=tool_name,
            fn=fn,
            side_effects=side_effects,
            signature=inspect.signature(fn),
            doc=inspect.getdoc(fn) or "",
        )
        self._tools[tool_name] = tool
        return tool

    def get(self, name: str) -> RegisteredTool:
        """The tool registered under `name`; raises ToolNotAllowed."""
        try:
            return self._tools[name]
        except KeyError:
            raise ToolNotAllowed(
                name, message=f"no tool named {name!r} is registered with this engine"
            ) from None

    def names(self) -> list[str]:
        """Registered tool names, sorted."""
        return sorted(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools
