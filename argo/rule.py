"""The skeleton's signal rule: moving-average momentum with volatility-sized exits.

An honest, simple rule; the weighted-consensus engine replaces it later.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import deque
from dataclasses import dataclass

from argo.signal import Action, Regime

FAST_WINDOW = 5
SLOW_WINDOW = 20
STRATEGY = "momentum-ma-5-20"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the rule decided for one symbol at one price."""

    action: Action
    entry_price: float
    target_price: float
    stop_price: float
    confidence: float
    regime: Regime
    reasoning: str


class MomentumRule:
    """Per-symbol price history in, at most one Decision per tick out."""

    def __init__(self) -> None:
        self._history: dict[str, deque[float]] = {}

    def observe(self, symbol: str, price: float) -> Decision | None:
        """Record `price`; return a Decision once enough history exists."""
        history = self._history.setdefault(symbol, deque(maxlen=SLOW_WINDOW + 1))
        history.append(price)
        if len(history) <= SLOW_WINDOW:
            return None
        prices = list(history)
        returns = [math.log(b / a) for a, b in itertools.pairwise(prices)]
        volatility = max(statistics.pstdev(returns), 1e-6)
        fast = statistics.fmean(prices[-FAST_WINDOW:])
        slow = statistics.fmean(prices[-SLOW_WINDOW:])
        spread = (fast - slow) / slow
        strength = abs(spread) / volatility
        if strength == 0:
            return None
        action = Action.BUY if spread > 0 else Action.SELL
        risk = price * max(2.0 * volatility, 0.001)
        if action is Action.BUY:
            target, stop = price + 2.0 * risk, price - risk
        else:
            target, stop = price - 2.0 * risk, price + risk
        confidence = round(50.0 + 50.0 * math.tanh(strength / 2.0), 2)
        return Decision(
            action=action,
            entry_price=round(price, 6),
            target_price=round(target, 6),
            stop_price=round(stop, 6),
            confidence=min(confidence, 100.0),
            regime=_regime(spread, volatility),
            reasoning=(
                f"{FAST_WINDOW}-tick average {'above' if spread > 0 else 'below'} the "
                f"{SLOW_WINDOW}-tick average by {abs(spread) * 100:.3f}% "
                f"({strength:.1f}x tick volatility)"
            ),
        )


def _regime(spread: float, volatility: float) -> Regime:
    if volatility > 0.02:
        return Regime.CRISIS
    if abs(spread) < volatility / 2:
        return Regime.CHOP
    return Regime.BULL if spread > 0 else Regime.BEAR
