"""What a claim hands its activation: the run leased, with what the activation reads first.

A woken run's activation needs its agent's tools and its step records before its plan code
runs. Read in the claim's own transaction, they cost no transaction or connection of their
own; they are as current as a read just after the claim (only the lease holder writes a
run's steps, and it holds the lease from that transaction on).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentflow.store.tables import RunRow, StepRecord


@dataclass(frozen=True)
class Claimed:
    """A run just leased, with its agent's tools and its step records read in the claim.

    Attributes:
        row: the run's row, as the claim left it.
        tools: the names of the tools its agent may use (none for an agent with no row).
        steps: every step record of the run, in order.
    """

    row: RunRow
    tools: list[str]
    steps: list[StepRecord]


@dataclass
class Handoff:
    """The next run a worker has reserved, for the settlement before it to claim.

    `LeaseStore.settle` given a handoff claims `key` in the settlement's own transaction
    (one commit for both) and records what it found: `tried` once the claim ran, `claimed`
    the run if it was still claimable. Left untried (the settlement lost its lease, or the
    claim failed and was rolled back alone), the worker claims `key` on its own.
    """

    key: str
    lease_seconds: float
    claimed: Claimed | None = None
    tried: bool = False
