"""From bars to decisions: consensus, regime threshold, cooldown, ATR exits, reasoning."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from argo.consensus import DEFAULT_WEIGHTS, MIN_BARS, Consensus, poll
from argo.indicators import atr
from argo.prices import Bar
from argo.regime import detect, threshold
from argo.signal import Action, Regime

STRATEGY = "weighted-consensus-v1"
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
    """Keeps the last bars per symbol and decides, bar by bar, whether to signal."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self._bars: dict[str, deque[Bar]] = {}
        self._cooldown: dict[tuple[str, Action], int] = {}

    def warm(self, bar: Bar) -> None:
        """Record a bar without deciding anything (history before the first cycle)."""
        self._bars.setdefault(bar.symbol, deque(maxlen=HISTORY)).append(bar)

    def observe(self, bar: Bar) -> Decision | None:
        """Record `bar`; a Decision when the regime-adjusted consensus is strong enough."""
        self.warm(bar)
        for key in [k for k in self._cooldown if k[0] == bar.symbol]:
            self._cooldown[key] -= 1
        bars = list(self._bars[bar.symbol])
        if len(bars) < MIN_BARS:
            return None
        consensus = poll(bars, self.config.weights)
        if consensus.direction == 0:
            return None
        action = Action.BUY if consensus.direction > 0 else Action.SELL
        regime = detect(bars)
        if consensus.confidence < threshold(self.config.base_threshold, regime, action):
            return None
        if self._cooldown.get((bar.symbol, action), 0) > 0:
            return None
        decision = self._exits(bar, bars, action, consensus, regime)
        if decision is not None:
            self._cooldown[(bar.symbol, action)] = self.config.cooldown_bars
        return decision

    def _exits(
        self, bar: Bar, bars: list[Bar], action: Action, consensus: Consensus, regime: Regime
    ) -> Decision | None:
        width = atr(bars)
        stop_atr = self.config.stop_atr * (4 / 3 if regime is Regime.CRISIS else 1)
        sign = 1 if action is Action.BUY else -1
        entry = round(bar.close, 6)
        target = round(entry + sign * self.config.target_atr * width, 6)
        stop = round(entry - sign * stop_atr * width, 6)
        if (
            width <= 0
            or min(target, stop) <= 0
            or not (min(target, stop) < entry < max(target, stop))
        ):
            return None
        return Decision(
            action=action,
            entry_price=entry,
            target_price=target,
            stop_price=stop,
            confidence=consensus.confidence,
            agreement=consensus.agreement,
            regime=regime,
            reasoning=_reasoning(action, consensus, regime),
        )


def _reasoning(action: Action, consensus: Consensus, regime: Regime) -> str:
    supporting = consensus.supporting()
    voting = [v for v in consensus.votes if v.direction]
    reasons = "; ".join(v.reason for v in supporting[:3])
    return (
        f"{len(supporting)} of {len(voting)} voting sources say {action.value}"
        f" ({reasons}), {consensus.agreement:.0%} of their weight agrees, {regime.value} market"
    )
