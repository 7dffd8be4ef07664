"""The review app's colours keep a contrast of at least 4.5:1 (WCAG AA), light and dark."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

CSS = files("agentflow.review").joinpath("static", "review.css").read_text()
BASE = files("agentflow.review").joinpath("templates", "base.html").read_text()
DARK = CSS.split("@media (prefers-color-scheme: dark)", 1)[1]
HEX = r"#([0-9a-fA-F]{6})"


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def pairs(css: str) -> list[tuple[str, str, str]]:
    """(selector, background, colour) of each rule that sets both as hex colours."""
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        background = re.search(r"background:\s*" + HEX, body)
        colour = re.search(r"(?<![-\w])color:\s*" + HEX, body)
        if background and colour:
            found.append((selector.strip(), background.group(1), colour.group(1)))
    return found


@pytest.mark.parametrize(("selector", "background", "colour"), pairs(DARK) + pairs(BASE))
def test_every_coloured_rule_is_readable(selector, background, colour):
    assert contrast(background, colour) >= 4.5, selector


def test_dark_text_links_and_muted_text_are_readable_on_the_dark_page():
    variables = dict(re.findall(r"--(\w+):\s*" + HEX, DARK.split("}", 1)[0]))
    page = re.search(r"body \{ background: " + HEX, DARK).group(1)
    for name in ("fg", "muted", "accent"):
        assert contrast(page, variables[name]) >= 4.5, name
        assert contrast(variables["bg"], variables[name]) >= 4.5, name
    assert len(pairs(DARK)) >= 10


def test_light_text_links_and_muted_text_are_readable_on_the_light_page():
    variables = dict(re.findall(r"--(\w+):\s*" + HEX, BASE.split(":root", 1)[1].split("}", 1)[0]))
    for name in ("fg", "muted", "accent"):
        assert contrast("ffffff", variables[name]) >= 4.5, name
        assert contrast(variables["bg"], variables[name]) >= 4.5, name
