"""Pull a plan's source code out of a model's reply."""

from __future__ import annotations

import re

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
_OPEN_FENCE = re.compile(r"^[ \t]*```[ \t]*(?:python3?|py)?[ \t]*\n", re.M)
_PYTHON_TAGS = {"", "python", "python3", "py"}


def extract_code(reply: str) -> str:
    """Return the plan code in a reply.

    A fenced block tagged ``python`` (or untagged) wins; among several, the one that defines
    `run`, else the longest. A reply without fences is taken whole, as bare code. A reply cut off
    inside an opening fence gives what follows the fence, so the compiler can say what is wrong.

    Args:
        reply: the model's raw text.

    Returns:
        The code, with a trailing newline.
    """
    blocks: list[str] = [body for tag, body in _FENCE.findall(reply) if tag.lower() in _PYTHON_TAGS]
    if blocks:
        defining = [body for body in blocks if "def run(" in body]
        code = max(defining or blocks, key=len)
    else:
        opened = _OPEN_FENCE.search(reply)
        code = reply[opened.end() :] if opened else reply
    return code.strip("\n").rstrip() + "\n"
