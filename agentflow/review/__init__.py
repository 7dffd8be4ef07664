"""Review: the decisions that let a generated plan run, from the CLI or the web."""

from agentflow.review.service import Reviews

__all__ = ["Reviews"]
