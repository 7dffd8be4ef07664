"""`Diagnostic`: one problem the compiler found in a plan's source.

`agentflow.errors.Diagnostic` and `agentflow.Diagnostic` name this class.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Diagnostic(BaseModel):
    """One problem found in a plan's source, at a line and column (both 1-based)."""

    model_config = ConfigDict(frozen=True)

    line: int
    col: int
    code: str
    message: str
    severity: str = "error"

    def format(self, filename: str = "<plan>") -> str:
        """Render in linter form: ``file:line:col: CODE message``."""
        return f"{filename}:{self.line}:{self.col}: {self.code} {self.message}"

    def __str__(self) -> str:
        return f"line {self.line}, col {self.col}: {self.code} {self.message}"
