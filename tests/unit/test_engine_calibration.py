"""The calibrated confidence: its map, its fit on the shipped samples, its spread."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from argo.engine.calibrate import fit, quantile, reference_readings
from argo.engine.calibration import KNOTS, confidence
from argo.engine.consensus import DEFAULT_WEIGHTS, raw_strength, tally


def test_the_shipped_knots_are_the_fit_on_the_shipped_samples() -> None:
    assert fit(list(reference_readings())) == KNOTS


def test_the_knots_rise_from_0_to_100() -> None:
    assert KNOTS[0] == (0.0, 0.0) and KNOTS[-1] == (1.0, 100.0)
    for (x0, y0), (x1, y1) in itertools.pairwise(KNOTS):
        assert x0 < x1 and y0 < y1


@given(a=st.floats(-1, 2), b=st.floats(-1, 2))
def test_the_map_is_monotone_and_bounded(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert 0.0 <= confidence(low) <= confidence(high) <= 100.0


@pytest.mark.parametrize(("x", "y"), KNOTS)
def test_the_map_passes_through_its_knots(x: float, y: float) -> None:
    assert confidence(x) == pytest.approx(y)


def test_only_a_full_strength_unanimous_panel_reaches_100() -> None:
    everyone = [(name, 1, 1.0) for name in DEFAULT_WEIGHTS]
    assert tally(everyone, DEFAULT_WEIGHTS) == (1, 100.0, 1.0)
    almost = [(name, 1, 1.0 if name != "volume" else 0.99) for name in DEFAULT_WEIGHTS]
    assert tally(almost, DEFAULT_WEIGHTS)[1] < 100.0


@pytest.mark.parametrize(
    ("stances", "raw"),
    [
        # purity 1, conviction 1, coverage 3.2 / 4.6
        ([("momentum", 1, 1.0), ("trend", 1, 1.0), ("breakout", 1, 1.0)], 3.2 / 4.6),
        # purity (1.5 - 0.5) / 2.0, conviction 2.0 / 2.8, coverage 2.8 / 4.6
        ([("trend", -1, 1.0), ("breakout", 1, 0.5), ("volume", -1, 0.5)], 1.0 / 4.6),
        # below quorum: no consensus
        ([("momentum", 1, 1.0), ("volume", 1, 1.0)], None),
    ],
)
def test_raw_strength_is_purity_times_conviction_times_coverage(
    stances: list[tuple[str, int, float]], raw: float | None
) -> None:
    voters = {name for name, _, _ in stances}
    padded = stances + [(name, 0, 0.0) for name in DEFAULT_WEIGHTS if name not in voters]
    expected = None if raw is None else pytest.approx(raw)
    assert raw_strength(padded, DEFAULT_WEIGHTS) == expected


def test_quantile_interpolates() -> None:
    assert quantile([0.0, 1.0, 2.0], 50) == 1.0
    assert quantile([0.0, 1.0], 25) == 0.25


def test_tied_readings_share_one_knot() -> None:
    knots = fit([0.5] * 10 + [0.2, 0.8])
    assert [x for x, _ in knots].count(0.5) == 1


def test_readings_spread_over_the_scale() -> None:
    scores = [confidence(raw) for raw in reference_readings()]
    deciles = Counter(min(int(score // 10), 9) for score in scores)
    assert all(deciles[d] >= len(scores) * 0.05 for d in range(10))
