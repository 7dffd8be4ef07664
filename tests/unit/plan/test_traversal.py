"""The fast traversal is verified against one RestrictedPython release: a new one re-verifies it."""

from __future__ import annotations

from importlib.metadata import version

from agentflow.plan.traversal import VERIFIED_AGAINST


def test_restrictedpython_is_the_release_the_fast_traversal_was_verified_against() -> None:
    installed = version("RestrictedPython")
    assert installed == VERIFIED_AGAINST, (
        f"RestrictedPython {installed} is installed, but agentflow/plan/traversal.py relies on "
        f"the internals of {VERIFIED_AGAINST}: run tests/unit/plan/test_transform_equivalence.py "
        "and bench/compile.py, read RestrictedPython's changes to transformer.py, then update "
        "VERIFIED_AGAINST and the measurements in traversal.py's docstring"
    )
