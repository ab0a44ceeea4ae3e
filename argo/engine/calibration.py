"""Calibrated confidence: the raw consensus strength, mapped to its rank on real data.

The raw strength of a consensus is purity shrunk by conviction and by how much of
the panel voted:

    raw = purity * conviction * coverage = (support - against) / total weight

(purity = (support - against) / (support + against), conviction = (support +
against) / voted, coverage = voted / total weight). It is 1 only when every source
votes the same way at full strength, which the sources practically never do.

Confidence is 100 times the share of the reference consensus readings (every bar
of the shipped real samples in argo/samples/ on which the default panel reached a
consensus) whose raw strength is lower: a piecewise-linear map through the
percentiles below, fitted by `python -m argo.engine.calibrate`, and from the 99th
percentile up to raw 1 (confidence 100). Confidence c thus reads "stronger than c %
of the consensus readings on real data"; docs/generator.md gives the hit rates.
"""

from __future__ import annotations

from bisect import bisect_right

# (raw strength, confidence) knots; made by `python -m argo.engine.calibrate`.
KNOTS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),
    (0.0766, 5.0),
    (0.1302, 10.0),
    (0.1968, 15.0),
    (0.2449, 20.0),
    (0.2963, 25.0),
    (0.3253, 30.0),
    (0.3693, 35.0),
    (0.4054, 40.0),
    (0.4437, 45.0),
    (0.4732, 50.0),
    (0.4943, 55.0),
    (0.5286, 60.0),
    (0.5537, 65.0),
    (0.592, 70.0),
    (0.6106, 75.0),
    (0.628, 80.0),
    (0.643, 85.0),
    (0.6957, 90.0),
    (0.7558, 95.0),
    (0.7749, 97.5),
    (0.7991, 99.0),
    (1.0, 100.0),
)

_XS: tuple[float, ...] = tuple(x for x, _ in KNOTS)


def confidence(raw: float) -> float:
    """The calibrated confidence (0-100) of a raw consensus strength (0-1)."""
    index = bisect_right(_XS, raw)
    if index >= len(KNOTS):
        return 100.0
    if index == 0:
        return 0.0
    (x0, y0), (x1, y1) = KNOTS[index - 1], KNOTS[index]
    return y0 + (y1 - y0) * (raw - x0) / (x1 - x0)
