"""Repeat a measurement; report the median and the spread."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    median: float
    low: float
    high: float
    runs: int

    @property
    def spread_pct(self) -> float:
        return 100.0 * (self.high - self.low) / self.median if self.median else 0.0


def repeat(measure: Callable[[], float], runs: int) -> Figure:
    values = [measure() for _ in range(runs)]
    return Figure(statistics.median(values), min(values), max(values), runs)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of `values` (pct in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), round(pct / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]
