"""Median and percentiles of a sample list (linear interpolation between closest ranks)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p10: float
    p90: float
    p99: float


def percentile(ordered: list[float], fraction: float) -> float:
    if len(ordered) == 1:
        return ordered[0]
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(samples: list[float]) -> Summary:
    ordered = sorted(samples)
    return Summary(
        n=len(ordered),
        median=statistics.median(ordered),
        p10=percentile(ordered, 0.10),
        p90=percentile(ordered, 0.90),
        p99=percentile(ordered, 0.99),
    )
