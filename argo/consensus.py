"""Independent indicator sources vote; the weighted votes make the consensus.

Each source looks at the same recent bars and votes BUY (+1), SELL (-1) or abstains
(0), with a strength in [0, 1] and a short reason. The consensus direction is the
sign of the weighted sum of votes. With, over the sources that voted (weight w,
strength s), support = sum w*s of votes with the direction, against = sum w*s of
votes against it, voted = sum w:

    purity     = (support - against) / (support + against)    1 when nobody dissents
    conviction = min(1, (support + against) / (FIRM * voted))   FIRM = 0.9
    confidence = 100 * purity * conviction
    agreement  = sum w of votes with the direction / voted

and there is no consensus unless the sources that voted carry at least half of all
the weight (a quorum).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from argo.indicators import atr, ema, rate_of_change, rsi, sma
from argo.prices import Bar

MIN_BARS = 51
QUORUM = 0.5
FIRM = 0.9


@dataclass(frozen=True, slots=True)
class Vote:
    source: str
    direction: int
    strength: float
    reason: str


Source = Callable[[Sequence[Bar]], Vote]


def _clip(value: float) -> float:
    return max(0.0, min(1.0, value))


def momentum(bars: Sequence[Bar]) -> Vote:
    """10-bar rate of change, measured in units of expected move (ATR)."""
    closes = [b.close for b in bars]
    expected = atr(bars) / closes[-1] * (10**0.5)
    z = rate_of_change(closes, 10) / expected if expected else 0.0
    if abs(z) < 0.4:
        return Vote("momentum", 0, 0.0, "momentum flat")
    return Vote(
        "momentum",
        1 if z > 0 else -1,
        _clip(abs(z) / 1.5),
        f"{rate_of_change(closes, 10) * 100:+.1f}% over 10 bars",
    )


def trend(bars: Sequence[Bar]) -> Vote:
    """EMA(12) against EMA(26), in ATRs."""
    closes = [b.close for b in bars]
    spread = (ema(closes[-40:], 12) - ema(closes[-40:], 26)) / (atr(bars) or 1.0)
    if abs(spread) < 0.15:
        return Vote("trend", 0, 0.0, "no trend")
    word = "above" if spread > 0 else "below"
    return Vote("trend", 1 if spread > 0 else -1, _clip(abs(spread) / 1.2), f"EMA12 {word} EMA26")


def mean_reversion(bars: Sequence[Bar]) -> Vote:
    """RSI(14): stretched markets snap back, but only in a range; a strong trend
    (EMA spread over half an ATR) is left to the trend-following sources."""
    closes = [b.close for b in bars]
    if abs(ema(closes[-40:], 12) - ema(closes[-40:], 26)) > 0.5 * (atr(bars) or 1.0):
        return Vote("mean_reversion", 0, 0.0, "trending: no mean-reversion view")
    value = rsi(closes)
    if value >= 70:
        return Vote("mean_reversion", -1, _clip((value - 70) / 20), f"RSI {value:.0f} overbought")
    if value <= 30:
        return Vote("mean_reversion", 1, _clip((30 - value) / 20), f"RSI {value:.0f} oversold")
    return Vote("mean_reversion", 0, 0.0, f"RSI {value:.0f} neutral")


def breakout(bars: Sequence[Bar]) -> Vote:
    """Close beyond the previous 20-bar high or low (a volatility breakout)."""
    previous = bars[-21:-1]
    high, low = max(b.high for b in previous), min(b.low for b in previous)
    close, width = bars[-1].close, atr(bars) or 1.0
    if close > high:
        return Vote("breakout", 1, _clip(0.6 + (close - high) / width), "broke the 20-bar high")
    if close < low:
        return Vote("breakout", -1, _clip(0.6 + (low - close) / width), "broke the 20-bar low")
    return Vote("breakout", 0, 0.0, "inside the 20-bar range")


def volume(bars: Sequence[Bar]) -> Vote:
    """Heavy volume confirms the direction of the last bar."""
    ratio = bars[-1].volume / (sma([b.volume for b in bars[:-1]], 20) or 1.0)
    move = bars[-1].close - bars[-1].open
    if ratio < 1.3 or move == 0:
        return Vote("volume", 0, 0.0, f"volume {ratio:.1f}x normal")
    return Vote("volume", 1 if move > 0 else -1, _clip((ratio - 1.0) / 1.5), f"volume {ratio:.1f}x")


SOURCES: Mapping[str, Source] = {
    "momentum": momentum,
    "trend": trend,
    "mean_reversion": mean_reversion,
    "breakout": breakout,
    "volume": volume,
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


def weigh(votes: Sequence[Vote], weights: Mapping[str, float]) -> Consensus:
    """Combine votes into a direction, a confidence (0-100) and an agreement (0-1)."""
    total = sum(weights.get(v.source, 0.0) for v in votes)
    voting = [v for v in votes if v.direction and weights.get(v.source, 0.0) > 0]
    voted = sum(weights[v.source] for v in voting)
    if total <= 0 or voted / total < QUORUM:
        return Consensus(0, 0.0, 0.0, tuple(votes))
    score = sum(weights[v.source] * v.direction * v.strength for v in voting)
    direction = 1 if score > 0 else -1 if score < 0 else 0
    if direction == 0:
        return Consensus(0, 0.0, 0.0, tuple(votes))
    support = sum(weights[v.source] * v.strength for v in voting if v.direction == direction)
    against = sum(weights[v.source] * v.strength for v in voting if v.direction != direction)
    agreeing = sum(weights[v.source] for v in voting if v.direction == direction)
    purity = (support - against) / (support + against)
    conviction = min(1.0, (support + against) / (FIRM * voted))
    confidence = max(0.0, min(100.0, 100.0 * purity * conviction))
    return Consensus(direction, round(confidence, 2), round(agreeing / voted, 3), tuple(votes))


def poll(bars: Sequence[Bar], weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> Consensus:
    """Ask every weighted source about `bars` (at least MIN_BARS of them) and weigh."""
    if len(bars) < MIN_BARS:
        raise ValueError(f"need {MIN_BARS} bars, got {len(bars)}")
    return weigh([SOURCES[name](bars) for name in weights if name in SOURCES], weights)
