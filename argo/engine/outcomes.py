"""Outcome tracking: each open signal is judged against every new bar of its symbol.

BUY: the stop is hit when the bar's low reaches it (loss), the target when its high
does (win); SELL mirrored. When one bar touches both, the stop counts (the
conservative reading). A signal still open `expire_after` after its timestamp (or,
when the tracker counts bars, after `expire_bars` bars) expires at the bar's close.
The P&L is measured from the signal's entry, or, once the signal was traded, from its
fill (`OutcomeTracker.filled`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from argo.prices.sources import Bar
from argo.signal import Action, Outcome, OutcomeKind, Signal
from argo.timeutil import from_text

DEFAULT_EXPIRY = timedelta(hours=24)


def profit_loss_pct(action: Action, entry: float, exit_price: float) -> float:
    """Percent gain of the position, negative for a loss."""
    change = exit_price / entry - 1.0 if action is Action.BUY else 1.0 - exit_price / entry
    return round(change * 100.0, 4)


def _exit(signal: Signal, bar: Bar) -> tuple[OutcomeKind, float] | None:
    """The stop or the target `bar` reaches, the stop first."""
    buy = signal.action is Action.BUY
    if bar.low <= signal.stop_price if buy else bar.high >= signal.stop_price:
        return OutcomeKind.LOSS, signal.stop_price
    if bar.high >= signal.target_price if buy else bar.low <= signal.target_price:
        return OutcomeKind.WIN, signal.target_price
    return None


def judge(
    signal: Signal,
    bar: Bar,
    now: datetime,
    expire_after: timedelta,
    *,
    out_of_bars: bool = False,
    entry: float | None = None,
) -> Outcome | None:
    """The outcome `bar` gives `signal`, or None while it stays open.

    `out_of_bars`: the signal has had all the bars it may have (it expires unless
    this bar decides it). `entry`: the price the position was opened at (a fill), when
    it is not the signal's own entry.
    """
    decided = _exit(signal, bar)
    if decided is None and (out_of_bars or now - from_text(signal.timestamp) >= expire_after):
        decided = OutcomeKind.EXPIRED, round(bar.close, 6)
    if decided is None:
        return None
    kind, price = decided
    return Outcome(
        signal.signal_id,
        signal.symbol,
        kind,
        price,
        profit_loss_pct(signal.action, entry or signal.entry_price, price),
        now,
    )


class OutcomeTracker:
    """The open signals per symbol, judged bar by bar.

    With `expire_bars` a signal also expires at the close of its `expire_bars`-th
    bar (a backtest's horizon, independent of how far apart the bars are).
    """

    def __init__(
        self, expire_after: timedelta = DEFAULT_EXPIRY, expire_bars: int | None = None
    ) -> None:
        self._expire_after = expire_after
        self._expire_bars = expire_bars
        self._open: dict[str, dict[str, Signal]] = {}
        self._bars_seen: dict[str, int] = {}
        self._fills: dict[str, float] = {}

    def track(self, signals: Iterable[Signal]) -> None:
        """Start watching `signals` (new ones, or those left open at a restart)."""
        for signal in signals:
            self._open.setdefault(signal.symbol, {})[signal.signal_id] = signal
            self._bars_seen[signal.signal_id] = 0

    def filled(self, signal_id: str, fill_price: float) -> None:
        """The signal was traded at `fill_price`: its P&L is measured from there."""
        self._fills[signal_id] = fill_price

    @property
    def open_count(self) -> int:
        return sum(len(v) for v in self._open.values())

    def check(self, bar: Bar, now: datetime) -> list[Outcome]:
        """Outcomes decided by `bar`; the decided signals stop being watched."""
        watched = self._open.get(bar.symbol, {})
        decided: list[Outcome] = []
        for signal in watched.values():
            last = self._count_bar(signal.signal_id)
            outcome = judge(
                signal,
                bar,
                now,
                self._expire_after,
                out_of_bars=last,
                entry=self._fills.get(signal.signal_id),
            )
            if outcome is not None:
                decided.append(outcome)
        for outcome in decided:
            del watched[outcome.signal_id]
            del self._bars_seen[outcome.signal_id]
            self._fills.pop(outcome.signal_id, None)
        return decided

    def _count_bar(self, signal_id: str) -> bool:
        """Count one more bar for the signal; whether it was its last."""
        seen = self._bars_seen[signal_id] = self._bars_seen[signal_id] + 1
        return self._expire_bars is not None and seen >= self._expire_bars
