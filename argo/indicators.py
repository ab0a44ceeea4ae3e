"""Technical indicators over short windows of bars: pure functions, no state."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from argo.prices import Bar


def sma(values: Sequence[float], period: int) -> float:
    """Mean of the last `period` values."""
    window = values[-period:]
    return sum(window) / len(window)


def ema(values: Sequence[float], period: int) -> float:
    """Exponential moving average over `values`, seeded with the first value."""
    alpha = 2.0 / (period + 1)
    average = values[0]
    for value in values[1:]:
        average += alpha * (value - average)
    return average


def true_ranges(bars: Sequence[Bar]) -> list[float]:
    """True range of each bar after the first."""
    return [
        max(b.high - b.low, abs(b.high - a.close), abs(b.low - a.close))
        for a, b in itertools.pairwise(bars)
    ]


def atr(bars: Sequence[Bar], period: int = 14) -> float:
    """Average true range of the last `period` bars (simple average)."""
    ranges = true_ranges(bars[-(period + 1) :])
    return sum(ranges) / len(ranges) if ranges else 0.0


def rsi(closes: Sequence[float], period: int = 14) -> float:
    """Relative strength index (0-100) of the last `period` changes."""
    window = closes[-(period + 1) :]
    gains = losses = 0.0
    for a, b in itertools.pairwise(window):
        change = b - a
        if change > 0:
            gains += change
        else:
            losses -= change
    if losses == 0:
        return 100.0 if gains > 0 else 50.0
    return 100.0 - 100.0 / (1.0 + gains / losses)


def rate_of_change(closes: Sequence[float], period: int) -> float:
    """Relative change over `period` bars."""
    return closes[-1] / closes[-1 - period] - 1.0
