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


@dataclass(frozen=True)
class Ratio:
    """One figure divided by its baseline's, once per interleaved round, against a limit.

    The target is met when the ratio holds in every round, or else when its median does
    (reported with the spread, so a lucky round cannot carry it alone)."""

    per_round: tuple[float, ...]
    limit: float

    @property
    def median(self) -> float:
        return statistics.median(self.per_round) if self.per_round else 0.0

    @property
    def low(self) -> float:
        return min(self.per_round, default=0.0)

    @property
    def high(self) -> float:
        return max(self.per_round, default=0.0)

    @property
    def every_round(self) -> bool:
        return bool(self.per_round) and self.high <= self.limit

    @property
    def met(self) -> bool:
        return bool(self.per_round) and self.median <= self.limit

    @property
    def how(self) -> str:
        """'every round', 'median' (some rounds missed) or 'missed'."""
        if self.every_round:
            return "every round"
        return "median" if self.met else "missed"

    def as_dict(self) -> dict[str, object]:
        return {
            "per_round": [round(r, 3) for r in self.per_round],
            "median": round(self.median, 3),
            "low": round(self.low, 3),
            "high": round(self.high, 3),
            "limit": self.limit,
            "met": self.met,
            "how": self.how,
        }


def ratios(parts: Sequence[float], wholes: Sequence[float], limit: float) -> Ratio:
    """Round-by-round `parts[i] / wholes[i]` (rounds with a zero baseline are skipped)."""
    return Ratio(tuple(p / w for p, w in zip(parts, wholes, strict=True) if w), limit)
