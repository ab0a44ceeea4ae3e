"""Outcome tracking: each open signal is judged against every new bar of its symbol.

BUY: the stop is hit when the bar's low reaches it (loss), the target when its high
does (win); SELL mirrored. When one bar touches both, the stop counts (the
conservative reading). A signal still open `expire_after` after its timestamp
expires at the bar's close.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argo.prices import Bar
from argo.signal import Action, Signal
from argo.timeutil import from_text

DEFAULT_EXPIRY = timedelta(hours=24)


class OutcomeKind(StrEnum):
    WIN = "win"
    LOSS = "loss"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Outcome:
    signal_id: str
    symbol: str
    outcome: OutcomeKind
    exit_price: float
    profit_loss_pct: float
    closed_at: datetime


def profit_loss_pct(action: Action, entry: float, exit_price: float) -> float:
    """Percent gain of the position, negative for a loss."""
    change = exit_price / entry - 1.0 if action is Action.BUY else 1.0 - exit_price / entry
    return round(change * 100.0, 4)


def judge(signal: Signal, bar: Bar, now: datetime, expire_after: timedelta) -> Outcome | None:
    """The outcome `bar` gives `signal`, or None while it stays open."""
    buy = signal.action is Action.BUY
    stop_hit = bar.low <= signal.stop_price if buy else bar.high >= signal.stop_price
    target_hit = bar.high >= signal.target_price if buy else bar.low <= signal.target_price
    if stop_hit:
        kind, price = OutcomeKind.LOSS, signal.stop_price
    elif target_hit:
        kind, price = OutcomeKind.WIN, signal.target_price
    elif now - from_text(signal.timestamp) >= expire_after:
        kind, price = OutcomeKind.EXPIRED, round(bar.close, 6)
    else:
        return None
    return Outcome(
        signal.signal_id,
        signal.symbol,
        kind,
        price,
        profit_loss_pct(signal.action, signal.entry_price, price),
        now,
    )


class OutcomeTracker:
    """The open signals per symbol, judged bar by bar."""

    def __init__(self, expire_after: timedelta = DEFAULT_EXPIRY) -> None:
        self._expire_after = expire_after
        self._open: dict[str, dict[str, Signal]] = {}

    def track(self, signals: Iterable[Signal]) -> None:
        """Start watching `signals` (new ones, or those left open at a restart)."""
        for signal in signals:
            self._open.setdefault(signal.symbol, {})[signal.signal_id] = signal

    @property
    def open_count(self) -> int:
        return sum(len(v) for v in self._open.values())

    def check(self, bar: Bar, now: datetime) -> list[Outcome]:
        """Outcomes decided by `bar`; the decided signals stop being watched."""
        watched = self._open.get(bar.symbol, {})
        decided = [
            outcome
            for signal in watched.values()
            if (outcome := judge(signal, bar, now, self._expire_after)) is not None
        ]
        for outcome in decided:
            del watched[outcome.signal_id]
        return decided
