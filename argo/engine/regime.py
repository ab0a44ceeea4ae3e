"""Market regime from trend and volatility, and the confidence bar it sets.

Rule (also in docs/generator.md):
- volatility ratio = ATR(14) / average true range of the last 50 bars;
- trend = (SMA(20) - SMA(50)) / ATR(14);
- CRISIS when the volatility ratio >= 1.8 and the trend is down (< 0), or the last
  10 bars fell more than 6 ATR; else BULL when trend >= 0.8, BEAR when <= -0.8,
  otherwise CHOP.
Threshold on top of the base (88): +0 with the trend in BULL/BEAR, +5 against it,
+4 in CHOP, +5 for SELL and +10 for BUY in CRISIS.
"""

from __future__ import annotations

from collections.abc import Sequence

from argo.engine.indicators import Indicators
from argo.prices.sources import Bar
from argo.signal import Action, Regime

_EXTRA = {
    (Regime.BULL, Action.BUY): 0.0,
    (Regime.BULL, Action.SELL): 5.0,
    (Regime.BEAR, Action.SELL): 0.0,
    (Regime.BEAR, Action.BUY): 5.0,
    (Regime.CHOP, Action.BUY): 4.0,
    (Regime.CHOP, Action.SELL): 4.0,
    (Regime.CRISIS, Action.SELL): 5.0,
    (Regime.CRISIS, Action.BUY): 10.0,
}
_LEAST_EXTRA = min(_EXTRA.values())


def detect(bars: Sequence[Bar]) -> Regime:
    """The regime of the market that `bars` (51 or more) describe."""
    return classify(Indicators.of(bars))


def classify(market: Indicators) -> Regime:
    """The regime of a market from its current readings."""
    short_atr = market.atr or 1e-12
    vol_ratio = short_atr / (market.long_atr() or short_atr)
    slope = (market.sma20() - market.sma50()) / short_atr
    drop = (market.close_ago(10) - market.close) / short_atr
    if (vol_ratio >= 1.8 and slope < 0) or drop > 6.0:
        return Regime.CRISIS
    if slope >= 0.8:
        return Regime.BULL
    if slope <= -0.8:
        return Regime.BEAR
    return Regime.CHOP


def threshold(base: float, regime: Regime, action: Action) -> float:
    """The confidence a signal needs in this regime (capped at 100)."""
    return min(base + _EXTRA[(regime, action)], 100.0)


def lowest_threshold(base: float) -> float:
    """The least `threshold` asks in any regime: below it, no need to know the regime."""
    return min(base + _LEAST_EXTRA, 100.0)
