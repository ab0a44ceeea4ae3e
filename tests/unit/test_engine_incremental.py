"""The incremental indicators equal, bit for bit, the definitions recomputed over the bars."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from argo.engine.indicators import (
    Indicators,
    RollingMax,
    RollingMin,
    atr,
    ema,
    rate_of_change,
    rsi,
    sma,
    true_ranges,
)
from argo.prices.sources import Bar
from tests.kit.factories import bars_from


def same(a: float, b: float) -> bool:
    """Equal bits (repr tells 0.0 from -0.0 and 1 from 1.0)."""
    return repr(a) == repr(b)


@st.composite
def bar_paths(draw: st.DrawFn) -> list[Bar]:
    """Bar paths with crashes, flat stretches, zero volume and repeated highs and lows."""
    count = draw(st.integers(2, 75))

    def series(often: list[float], low: float, high: float) -> list[float]:
        values = st.sampled_from(often) | st.floats(low, high)
        return draw(st.lists(values, min_size=count, max_size=count))

    returns = series([0.0, 0.01, -0.01], -0.3, 0.3)
    wicks = series([0.0, 0.002], 0.0, 0.05)
    volumes = series([0.0, 1e6], 0.0, 1e7)
    return bars_from(returns, wicks, volumes, draw(st.floats(0.01, 1e5)))


def check(market: Indicators, bars: list[Bar]) -> None:
    closes = [b.close for b in bars]
    assert market.count == len(bars) and same(market.close, closes[-1])
    assert same(market.atr, atr(bars))
    assert same(market.fast_ema, ema(closes[-40:], 12))
    assert same(market.slow_ema, ema(closes[-40:], 26))
    assert same(market.rsi(), rsi(closes))
    assert same(market.sma20(), sma(closes, 20)) and same(market.sma50(), sma(closes, 50))
    if len(bars) > 1:
        ranges = true_ranges(bars[-51:])
        assert same(market.long_atr(), sum(ranges) / len(ranges))
        previous = bars[-21:-1]
        assert same(market.high20, max(b.high for b in previous))
        assert same(market.low20, min(b.low for b in previous))
        assert same(market.volume20, sma([b.volume for b in bars[:-1]], 20))
    if len(bars) > 10:
        assert same(market.rate_of_change(10), rate_of_change(closes, 10))
        assert same(market.close_ago(10), closes[-11])


@settings(max_examples=40, deadline=None)
@given(bars=bar_paths())
def test_every_reading_equals_its_definition_after_every_bar(bars: list[Bar]) -> None:
    market = Indicators()
    for end, bar in enumerate(bars, 1):
        market.push(bar)
        check(market, bars[:end])


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(-3, 3).map(float) | st.floats(-1e6, 1e6), max_size=80),
    size=st.integers(1, 25),
)
def test_rolling_extremes_equal_max_and_min_of_the_window(values: list[float], size: int) -> None:
    highest, lowest = RollingMax(size), RollingMin(size)
    for end, value in enumerate(values, 1):
        highest.push(value)
        lowest.push(value)
        window = values[max(0, end - size) : end]
        assert same(highest.value, max(window)) and same(lowest.value, min(window))
