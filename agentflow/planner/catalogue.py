"""The tool catalogue a model is shown: each tool's name, signature, docstring and side effects."""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentflow.engine import Engine


@dataclass(frozen=True)
class CatalogueEntry:
    """One tool as the planner describes it to a model.

    Attributes:
        name: the name plans use, as in `tools.NAME`.
        signature: the call signature, e.g. `(to: str, subject: str, body: str) -> dict`.
        doc: the tool's docstring.
        side_effects: whether calling it changes the world.
    """

    name: str
    signature: str
    doc: str
    side_effects: bool


@dataclass(frozen=True)
class ToolCatalogue:
    """The tools one agent may use, sorted by name, with a hash that identifies the set."""

    entries: tuple[CatalogueEntry, ...]
    hash: str

    @property
    def names(self) -> list[str]:
        """The tool names, sorted."""
        return [entry.name for entry in self.entries]


def build_catalogue(engine: Engine, names: Iterable[str]) -> ToolCatalogue:
    """Describe the given tools of an engine.

    The hash covers names, signatures, docstrings and side effects, so a plan generated for one
    catalogue is reused only while the tools it was written against stay the same.

    Raises:
        ToolNotAllowed: a name is not registered with the engine.
    """
    wanted = sorted(set(names))
    engine.import_missing_tools(wanted)
    entries = []
    for name in wanted:
        tool = engine.tools.get(name)
        entries.append(
            CatalogueEntry(
                name=tool.name,
                signature=render_signature(tool.signature),
                doc=tool.doc,
                side_effects=tool.side_effects,
            )
        )
    return ToolCatalogue(entries=tuple(entries), hash=catalogue_hash(entries))


class _Annotation:
    """An annotation kept as text (`from __future__ import annotations`), shown unquoted."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def render_signature(signature: inspect.Signature) -> str:
    """A signature as a model should read it: `(to: str, n: int = 1) -> dict`, no quoted types."""

    def plain(annotation: Any) -> Any:
        return _Annotation(annotation) if isinstance(annotation, str) else annotation

    params = [p.replace(annotation=plain(p.annotation)) for p in signature.parameters.values()]
    return str(
        signature.replace(parameters=params, return_annotation=plain(signature.return_annotation))
    )


def catalogue_hash(entries: Iterable[CatalogueEntry]) -> str:
    """A stable SHA-256 (hex) of a catalogue's entries, independent of their order."""
    rows = sorted((e.name, e.signature, e.doc, e.side_effects) for e in entries)
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()
