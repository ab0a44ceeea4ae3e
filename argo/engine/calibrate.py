"""Fit the confidence map of argo/engine/calibration.py on the shipped real samples.

`python -m argo.engine.calibrate` prints the KNOTS to paste into argo/engine/calibration.py: the
raw consensus strength at every 5th percentile (and the 97.5th and 99th) of the reference
readings, every bar of the samples on which the default panel reached a consensus.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from argo.engine.consensus import DEFAULT_WEIGHTS, MIN_BARS, leans, raw_strength
from argo.engine.indicators import Indicators
from argo.prices.sources import CsvPriceSource

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
REFERENCE = ("GOOG-2004-2006.csv", "BTC-USD-monthly.csv")
PERCENTS = (*(5.0 * i for i in range(1, 20)), 97.5, 99.0)


def reference_readings(names: Sequence[str] = REFERENCE) -> Iterator[float]:
    """The raw strength of every consensus the default panel reaches on the samples."""
    for name in names:
        source, market = CsvPriceSource(SAMPLES / name), Indicators()
        while (bar := source.next_bar("X")) is not None:
            market.push(bar)
            if market.count >= MIN_BARS:
                raw = raw_strength(leans(market, DEFAULT_WEIGHTS), DEFAULT_WEIGHTS)
                if raw is not None:
                    yield raw


def quantile(ordered: Sequence[float], percent: float) -> float:
    """Linear-interpolation quantile of sorted values."""
    position = percent / 100 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def fit(readings: Sequence[float]) -> tuple[tuple[float, float], ...]:
    """Knots from (0, 0) through the percentiles to (1, 100); tied strengths share one
    knot at the mean of their percents, so the map stays a function."""
    ordered = sorted(readings)
    tied: dict[float, list[float]] = {}
    for percent in PERCENTS:
        tied.setdefault(round(quantile(ordered, percent), 4), []).append(percent)
    inner = tuple((x, round(sum(ps) / len(ps), 2)) for x, ps in tied.items() if 0.0 < x < 1.0)
    return ((0.0, 0.0), *inner, (1.0, 100.0))


if __name__ == "__main__":
    readings = list(reference_readings())
    print(f"# {len(readings)} consensus readings in {', '.join(REFERENCE)}", file=sys.stderr)
    print("KNOTS: tuple[tuple[float, float], ...] = (")
    for x, y in fit(readings):
        print(f"    ({x!r}, {y!r}),")
    print(")")
