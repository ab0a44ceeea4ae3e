"""From bars to decisions: consensus, regime threshold, cooldown, ATR exits, reasoning."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from argo.engine.consensus import DEFAULT_WEIGHTS, MIN_BARS, Consensus, explain, leans, tally
from argo.engine.indicators import Indicators
from argo.engine.regime import classify, lowest_threshold, threshold
from argo.prices.sources import Bar, asset_type_of
from argo.signal import Action, Regime, Signal
from argo.timeutil import to_text

log = logging.getLogger(__name__)

STRATEGY = "weighted-consensus-v1"
# Bars to warm up with: more than the longest indicator window (MIN_BARS).
HISTORY = 60


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Tunables of the generator (defaults are the documented ones)."""

    base_threshold: float = 88.0
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    cooldown_bars: int = 10
    stop_atr: float = 1.5
    target_atr: float = 3.0


@dataclass(frozen=True, slots=True)
class Decision:
    """A signal the engine wants to emit for one bar."""

    action: Action
    entry_price: float
    target_price: float
    stop_price: float
    confidence: float
    agreement: float
    regime: Regime
    reasoning: str


class SignalEngine:
    """Keeps each symbol's indicators current and decides, bar by bar, whether to signal.

    A bar costs the same however long the run: the indicators are updated as bars
    arrive, and reasons are put into words only for the bars that signal.
    """

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._markets: dict[str, Indicators] = {}
        self._observed: dict[str, int] = {}
        # (symbol, action) -> the count of observed bars at which its cooldown is over.
        self._cooldown_until: dict[tuple[str, Action], int] = {}

    def warm(self, bar: Bar) -> None:
        """Record a bar without deciding anything (history before the first cycle)."""
        self._market(bar.symbol).push(bar)

    def observe(self, bar: Bar) -> Decision | None:
        """Record `bar`; a Decision when the regime-adjusted consensus is strong enough."""
        symbol, config = bar.symbol, self.config
        market = self._market(symbol)
        market.push(bar)
        observed = self._observed[symbol] = self._observed.get(symbol, 0) + 1
        if market.count < MIN_BARS:
            return None
        stances = leans(market, config.weights)
        direction, confidence, agreement = tally(stances, config.weights)
        if direction == 0:
            return None
        action = Action.BUY if direction > 0 else Action.SELL
        # Cheapest checks first: all are pure, so the order changes no outcome.
        if confidence < lowest_threshold(config.base_threshold):
            return None
        if self._cooldown_until.get((symbol, action), 0) > observed:
            return None
        regime = classify(market)
        if confidence < threshold(config.base_threshold, regime, action):
            return None
        exits = self._exits(market, action, regime)
        if exits is None:
            return None
        self._cooldown_until[(symbol, action)] = observed + config.cooldown_bars
        consensus = Consensus(direction, confidence, agreement, explain(market, stances))
        return Decision(
            action, *exits, confidence, agreement, regime, _reasoning(action, consensus, regime)
        )

    def _market(self, symbol: str) -> Indicators:
        market = self._markets.get(symbol)
        if market is None:
            market = self._markets[symbol] = Indicators()
        return market

    def _exits(
        self, market: Indicators, action: Action, regime: Regime
    ) -> tuple[float, float, float] | None:
        """Entry, target and stop, ATRs apart; None unless they make sense."""
        width = market.atr
        stop_atr = self.config.stop_atr * (4 / 3 if regime is Regime.CRISIS else 1)
        sign = 1 if action is Action.BUY else -1
        entry = round(market.close, 6)
        target = round(entry + sign * self.config.target_atr * width, 6)
        stop = round(entry - sign * stop_atr * width, 6)
        if (
            width <= 0
            or min(target, stop) <= 0
            or not (min(target, stop) < entry < max(target, stop))
        ):
            return None
        return entry, target, stop


def _reasoning(action: Action, consensus: Consensus, regime: Regime) -> str:
    supporting = consensus.supporting()
    voting = [v for v in consensus.votes if v.direction]
    reasons = "; ".join(v.reason for v in supporting[:3])
    return (
        f"{len(supporting)} of {len(voting)} voting sources say {action.value}"
        f" ({reasons}), {consensus.agreement:.0%} of their weight agrees, {regime.value} market"
    )


def signal_from(
    decision: Decision, bar: Bar, data_source: str, timestamp: datetime
) -> Signal | None:
    """The Signal of the engine's `decision` on `bar`; None (logged) if it is invalid."""
    try:
        return Signal.create(
            symbol=bar.symbol,
            action=decision.action,
            entry_price=decision.entry_price,
            target_price=decision.target_price,
            stop_price=decision.stop_price,
            confidence=decision.confidence,
            strategy=STRATEGY,
            asset_type=asset_type_of(bar.symbol),
            data_source=data_source,
            timestamp=to_text(timestamp),
            reasoning=decision.reasoning,
            regime=decision.regime,
        )
    except ValueError:
        log.warning("engine produced an invalid signal; skipped", exc_info=True)
        return None
