"""Risk checks before an execution: position limits, and the loss limits that halt trading.

Pure: no clock, IO or logging; the caller passes `now`. The account is measured in
percent of its starting equity (100). Every execution is one position of `position_pct`
percent of that equity, so a closed trade moves equity by
`position_pct * profit_loss_pct / 100` (its P&L from the fill). Only realized P&L counts.

- **max open positions**: positions filled or ordered and not yet closed, over all symbols;
- **max position per symbol**: the same, per symbol;
- **daily loss limit**: the realized loss of the trades closed on the current UTC day, in
  percent of starting equity; reaching it halts new executions until the next UTC day;
- **max drawdown**: the fall of equity from its highest point, in percent of that peak;
  reaching it halts new executions until equity recovers (open positions still close).

A prop-firm preset (`PRESETS`) tightens the configured limits: each limit becomes the
stricter of the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from argo.trades import SkipReason, Trade

START_EQUITY = 100.0


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits every execution must clear (percentages of starting equity)."""

    max_open_positions: int = 5
    max_position_per_symbol: int = 1
    daily_loss_limit_pct: float = 3.0
    max_drawdown_pct: float = 10.0
    position_pct: float = 10.0

    def __post_init__(self) -> None:
        if self.max_open_positions < 1 or self.max_position_per_symbol < 1:
            raise ValueError("max_open_positions and max_position_per_symbol must be >= 1")
        for name in ("daily_loss_limit_pct", "max_drawdown_pct", "position_pct"):
            value = getattr(self, name)
            if not 0 < value <= 100:
                raise ValueError(f"{name} must be in (0, 100], got {value}")

    def tightened_by(self, preset: RiskLimits) -> RiskLimits:
        """Each limit the stricter of `self` and `preset` (position size: the smaller)."""
        return replace(
            self,
            max_open_positions=min(self.max_open_positions, preset.max_open_positions),
            max_position_per_symbol=min(
                self.max_position_per_symbol, preset.max_position_per_symbol
            ),
            daily_loss_limit_pct=min(self.daily_loss_limit_pct, preset.daily_loss_limit_pct),
            max_drawdown_pct=min(self.max_drawdown_pct, preset.max_drawdown_pct),
            position_pct=min(self.position_pct, preset.position_pct),
        )


# Prop-firm rule sets, by the name `prop_firm` takes in the config file. "challenge" is the
# usual evaluation (5 % daily loss, 10 % overall); "strict" a funded account's tighter one.
PRESETS: Mapping[str, RiskLimits] = {
    "challenge": RiskLimits(5, 1, 5.0, 10.0, 10.0),
    "strict": RiskLimits(3, 1, 2.0, 5.0, 5.0),
}


def effective_limits(limits: RiskLimits, prop_firm: str | None) -> RiskLimits:
    """`limits` tightened by the named preset (ValueError naming the known ones)."""
    if not prop_firm:
        return limits
    if prop_firm not in PRESETS:
        raise ValueError(f"unknown prop_firm {prop_firm!r}; use one of {', '.join(PRESETS)}")
    return limits.tightened_by(PRESETS[prop_firm])


class RiskBook:
    """Open positions and realized P&L, and the verdict on each new execution."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._open: dict[str, str] = {}  # signal_id -> symbol, ordered or filled
        self._equity = START_EQUITY
        self._peak = START_EQUITY
        self._day: date | None = None
        self._day_pnl = 0.0

    def restore(self, trades: Iterable[Trade]) -> None:
        """Rebuild the book from stored trades (at start): open ones hold positions, closed
        ones replay the equity curve in the order they closed."""
        closed = []
        for trade in trades:
            if trade.open:
                self._open[trade.signal_id] = trade.symbol
            elif trade.closed_at is not None and trade.profit_loss_pct is not None:
                closed.append(trade)
        for trade in sorted(closed, key=lambda t: (t.closed_at, t.signal_id)):
            assert trade.closed_at is not None and trade.profit_loss_pct is not None
            self.close(trade.signal_id, trade.profit_loss_pct, trade.closed_at)

    @property
    def open_positions(self) -> int:
        return len(self._open)

    @property
    def equity(self) -> float:
        """Equity in percent of the starting equity."""
        return self._equity

    @property
    def drawdown_pct(self) -> float:
        """The fall from the equity peak, in percent of the peak."""
        return (self._peak - self._equity) / self._peak * 100.0

    def daily_pnl_pct(self, now: datetime) -> float:
        """Realized P&L of the trades closed on `now`'s UTC day, in percent of start."""
        return self._day_pnl if self._day == _utc_day(now) else 0.0

    def halt(self, now: datetime) -> SkipReason | None:
        """Why new executions are halted at `now`, or None while trading may go on."""
        if self.drawdown_pct >= self.limits.max_drawdown_pct:
            return SkipReason.HALTED_DRAWDOWN
        if -self.daily_pnl_pct(now) >= self.limits.daily_loss_limit_pct:
            return SkipReason.HALTED_DAILY_LOSS
        return None

    def check(self, symbol: str, now: datetime) -> SkipReason | None:
        """Why a new execution on `symbol` must be skipped at `now`, or None to go ahead."""
        halted = self.halt(now)
        if halted is not None:
            return halted
        if len(self._open) >= self.limits.max_open_positions:
            return SkipReason.MAX_OPEN_POSITIONS
        held = sum(1 for held_symbol in self._open.values() if held_symbol == symbol)
        if held >= self.limits.max_position_per_symbol:
            return SkipReason.MAX_POSITION_PER_SYMBOL
        return None

    def reserve(self, signal_id: str, symbol: str) -> None:
        """Count an order placed for `signal_id` as an open position."""
        self._open[signal_id] = symbol

    def release(self, signal_id: str) -> None:
        """Forget a position that never filled (rejected, or cancelled at shutdown)."""
        self._open.pop(signal_id, None)

    def holds(self, signal_id: str) -> bool:
        return signal_id in self._open

    def close(self, signal_id: str, profit_loss_pct: float, closed_at: datetime) -> None:
        """Realize a trade's P&L (from its fill) and free its position."""
        self._open.pop(signal_id, None)
        change = self.limits.position_pct * profit_loss_pct / 100.0
        day = _utc_day(closed_at)
        if day != self._day:
            self._day, self._day_pnl = day, 0.0
        self._day_pnl += change
        self._equity += change
        self._peak = max(self._peak, self._equity)


def _utc_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: give a timezone (UTC)")
    return moment.astimezone(UTC).date()
