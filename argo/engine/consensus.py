"""Independent indicator sources vote; the weighted votes make the consensus.

Each source reads the same indicators of the recent bars and votes BUY (+1), SELL
(-1) or abstains (0), with a strength in [0, 1] and a short reason. The consensus
direction is the sign of the weighted sum of votes. With, over the sources that
voted (weight w, strength s), support = sum w*s of votes with the direction,
against = sum w*s of votes against it, voted = sum w, and total = sum w of every
source (voting or not):

    purity     = (support - against) / (support + against)    1 when nobody dissents
    conviction = (support + against) / voted                   mean strength
    coverage   = voted / total                                 share of the panel voting
    raw        = purity * conviction * coverage = (support - against) / total
    confidence = calibration.confidence(raw)                    its rank on real data
    agreement  = sum w of votes with the direction / voted

and there is no consensus unless the sources that voted carry at least half of all
the weight (a quorum). See argo/engine/calibration.py for the map from raw to confidence.

A source's lean (direction and strength) is apart from its reason, so the engine
can weigh every bar and put reasons into words only for the bars it signals on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from argo.engine.calibration import confidence
from argo.engine.indicators import Indicators
from argo.prices.sources import Bar

MIN_BARS = 51
QUORUM = 0.5
_SQRT_10 = 10**0.5

Lean = tuple[int, float]
"""A source's direction (+1, -1 or 0) and strength."""
Stance = tuple[str, int, float]
"""A source's name, direction and strength."""


@dataclass(frozen=True, slots=True)
class Vote:
    source: str
    direction: int
    strength: float
    reason: str


@dataclass(frozen=True, slots=True)
class Source:
    """How an indicator source leans on the readings, and why, in words."""

    lean: Callable[[Indicators], Lean]
    reason: Callable[[Indicators, int], str]


def _clip(value: float) -> float:
    return max(0.0, min(1.0, value))


def _momentum(market: Indicators) -> tuple[float, float]:
    """The 10-bar rate of change, and the same in units of expected move (ATR)."""
    expected = market.atr / market.close * _SQRT_10
    change = market.rate_of_change(10)
    return change, (change / expected if expected else 0.0)


def momentum(market: Indicators) -> Lean:
    """10-bar rate of change, measured in units of expected move (ATR)."""
    z = _momentum(market)[1]
    if abs(z) < 0.4:
        return 0, 0.0
    return 1 if z > 0 else -1, _clip(abs(z) / 1.5)


def _momentum_reason(market: Indicators, direction: int) -> str:
    return f"{_momentum(market)[0] * 100:+.1f}% over 10 bars" if direction else "momentum flat"


def _spread(market: Indicators) -> float:
    """EMA(12) - EMA(26), in ATRs."""
    return (market.fast_ema - market.slow_ema) / (market.atr or 1.0)


def trend(market: Indicators) -> Lean:
    """EMA(12) against EMA(26), in ATRs."""
    spread = _spread(market)
    if abs(spread) < 0.15:
        return 0, 0.0
    return 1 if spread > 0 else -1, _clip(abs(spread) / 1.2)


def _trend_reason(market: Indicators, direction: int) -> str:
    if not direction:
        return "no trend"
    return f"EMA12 {'above' if direction > 0 else 'below'} EMA26"


def _trending(market: Indicators) -> bool:
    """A strong trend: EMA spread over half an ATR."""
    return abs(market.fast_ema - market.slow_ema) > 0.5 * (market.atr or 1.0)


def mean_reversion(market: Indicators) -> Lean:
    """RSI(14): stretched markets snap back, but only in a range; a strong trend
    is left to the trend-following sources."""
    if _trending(market):
        return 0, 0.0
    value = market.rsi()
    if value >= 70:
        return -1, _clip((value - 70) / 20)
    if value <= 30:
        return 1, _clip((30 - value) / 20)
    return 0, 0.0


def _mean_reversion_reason(market: Indicators, direction: int) -> str:
    if _trending(market):
        return "trending: no mean-reversion view"
    word = {-1: "overbought", 1: "oversold", 0: "neutral"}[direction]
    return f"RSI {market.rsi():.0f} {word}"


def breakout(market: Indicators) -> Lean:
    """Close beyond the previous 20-bar high or low (a volatility breakout)."""
    high, low = market.high20, market.low20
    close, width = market.close, market.atr or 1.0
    if close > high:
        return 1, _clip(0.6 + (close - high) / width)
    if close < low:
        return -1, _clip(0.6 + (low - close) / width)
    return 0, 0.0


def _breakout_reason(market: Indicators, direction: int) -> str:
    return {
        1: "broke the 20-bar high",
        -1: "broke the 20-bar low",
        0: "inside the 20-bar range",
    }[direction]


def _volume_ratio(market: Indicators) -> float:
    return market.volume / (market.volume20 or 1.0)


def volume(market: Indicators) -> Lean:
    """Heavy volume confirms the direction of the last bar."""
    ratio = _volume_ratio(market)
    move = market.close - market.open
    if ratio < 1.3 or move == 0:
        return 0, 0.0
    return 1 if move > 0 else -1, _clip((ratio - 1.0) / 1.5)


def _volume_reason(market: Indicators, direction: int) -> str:
    ratio = _volume_ratio(market)
    return f"volume {ratio:.1f}x" if direction else f"volume {ratio:.1f}x normal"


SOURCES: Mapping[str, Source] = {
    "momentum": Source(momentum, _momentum_reason),
    "trend": Source(trend, _trend_reason),
    "mean_reversion": Source(mean_reversion, _mean_reversion_reason),
    "breakout": Source(breakout, _breakout_reason),
    "volume": Source(volume, _volume_reason),
}
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "momentum": 1.0,
    "trend": 1.2,
    "mean_reversion": 0.8,
    "breakout": 1.0,
    "volume": 0.6,
}


@dataclass(frozen=True, slots=True)
class Consensus:
    direction: int
    confidence: float
    agreement: float
    votes: tuple[Vote, ...]

    def supporting(self) -> list[Vote]:
        """The votes with the consensus direction, strongest first."""
        return sorted(
            (v for v in self.votes if v.direction == self.direction and v.direction),
            key=lambda v: -v.strength,
        )


Tally = tuple[int, float, float]
"""Direction, confidence and agreement of a consensus."""
_NO_CONSENSUS: Tally = (0, 0.0, 0.0)


def _panel(stances: Sequence[Stance], weights: Mapping[str, float]) -> Tally | None:
    """Direction, raw strength (0-1) and agreement of the stances; None without consensus."""
    total = voted = score = 0.0
    for name, direction, strength in stances:
        weight = weights.get(name, 0.0)
        total += weight
        if direction and weight > 0:
            voted += weight
            score += weight * direction * strength
    if total <= 0 or voted / total < QUORUM or score == 0:
        return None
    side = 1 if score > 0 else -1
    agreeing = 0.0
    for name, direction, _ in stances:
        if direction == side:
            agreeing += max(weights.get(name, 0.0), 0.0)
    # support - against is the score in the consensus direction.
    return side, abs(score) / total, agreeing / voted


def raw_strength(stances: Sequence[Stance], weights: Mapping[str, float]) -> float | None:
    """purity * conviction * coverage of the stances (0-1); None without consensus."""
    panel = _panel(stances, weights)
    return None if panel is None else panel[1]


def tally(stances: Sequence[Stance], weights: Mapping[str, float]) -> Tally:
    """Direction, calibrated confidence (0-100) and agreement (0-1) of the stances."""
    panel = _panel(stances, weights)
    if panel is None:
        return _NO_CONSENSUS
    side, raw, agreement = panel
    return side, round(confidence(raw), 2), round(agreement, 3)


def weigh(votes: Sequence[Vote], weights: Mapping[str, float]) -> Consensus:
    """Combine votes into a direction, a confidence (0-100) and an agreement (0-1)."""
    direction, confidence, agreement = tally(
        [(v.source, v.direction, v.strength) for v in votes], weights
    )
    return Consensus(direction, confidence, agreement, tuple(votes))


def leans(market: Indicators, weights: Mapping[str, float]) -> list[Stance]:
    """(source, direction, strength) of every weighted source, in the order of `weights`."""
    return [(name, *SOURCES[name].lean(market)) for name in weights if name in SOURCES]


def explain(market: Indicators, stances: Sequence[Stance]) -> tuple[Vote, ...]:
    """The votes behind `stances` (from `leans`), each with its reason."""
    return tuple(
        Vote(name, direction, strength, SOURCES[name].reason(market, direction))
        for name, direction, strength in stances
    )


def consult(market: Indicators, weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> Consensus:
    """Ask every weighted source about the readings of `market` and weigh."""
    stances = leans(market, weights)
    return Consensus(*tally(stances, weights), explain(market, stances))


def poll(bars: Sequence[Bar], weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> Consensus:
    """Ask every weighted source about `bars` (at least MIN_BARS of them) and weigh."""
    if len(bars) < MIN_BARS:
        raise ValueError(f"need {MIN_BARS} bars, got {len(bars)}")
    return consult(Indicators.of(bars), weights)
