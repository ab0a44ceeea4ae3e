"""What a list of judged signals says: win rate, average P&L, and both by confidence band.

A signal's *hit* is a win (its target before its stop); the win rate is wins over
closed signals (wins, losses and expiries), so expiries count against it. Signals
still open are counted but left out of the rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from argo.signal import Outcome, OutcomeKind, Signal

# The reliability bands: their edges are the base threshold and the subscriber tiers.
BANDS: tuple[tuple[float, float], ...] = (
    (0.0, 50.0),
    (50.0, 70.0),
    (70.0, 80.0),
    (80.0, 88.0),
    (88.0, 90.0),
    (90.0, 95.0),
    (95.0, 100.0),
)
HISTOGRAM_WIDTH = 5.0


@dataclass(frozen=True, slots=True)
class Trade:
    """A signal of the replay and its outcome (None: still open when the bars ran out)."""

    signal: Signal
    outcome: Outcome | None


@dataclass(frozen=True, slots=True)
class Tally:
    """Signals, how they closed, and what they made."""

    signals: int
    open: int
    wins: int
    losses: int
    expired: int
    win_rate: float | None
    avg_profit_loss_pct: float | None

    @classmethod
    def of(cls, trades: Sequence[Trade]) -> Tally:
        kinds = [t.outcome.outcome for t in trades if t.outcome is not None]
        pnl = [t.outcome.profit_loss_pct for t in trades if t.outcome is not None]
        wins = kinds.count(OutcomeKind.WIN)
        return cls(
            signals=len(trades),
            open=len(trades) - len(kinds),
            wins=wins,
            losses=kinds.count(OutcomeKind.LOSS),
            expired=kinds.count(OutcomeKind.EXPIRED),
            win_rate=round(wins / len(kinds), 4) if kinds else None,
            avg_profit_loss_pct=round(sum(pnl) / len(pnl), 4) if pnl else None,
        )


@dataclass(frozen=True, slots=True)
class Band:
    """The tally of the signals with `low <= confidence < high` (the last band takes 100)."""

    low: float
    high: float
    tally: Tally


@dataclass(frozen=True, slots=True)
class Report:
    overall: Tally
    exactly_100: int
    by_confidence: tuple[Band, ...]
    histogram: tuple[tuple[float, int], ...]
    """(lower edge, signals) per HISTOGRAM_WIDTH-wide bin of confidence."""

    def to_json(self) -> dict[str, Any]:
        """The `--json` document: the overall tally's fields, then the tables."""
        return {
            **asdict(self.overall),
            "exactly_100": self.exactly_100,
            "by_confidence": [
                {"low": b.low, "high": b.high, **asdict(b.tally)} for b in self.by_confidence
            ],
            "histogram": [
                {"low": low, "high": low + HISTOGRAM_WIDTH, "signals": n}
                for low, n in self.histogram
            ],
        }


def _in(confidence: float, low: float, high: float) -> bool:
    return low <= confidence < high or (high == 100.0 and confidence == 100.0)


def report(trades: Sequence[Trade]) -> Report:
    """Summarize `trades` overall, by reliability band and as a histogram."""
    bins = int(100 / HISTOGRAM_WIDTH)
    counts = [0] * bins
    for trade in trades:
        counts[min(int(trade.signal.confidence // HISTOGRAM_WIDTH), bins - 1)] += 1
    return Report(
        overall=Tally.of(trades),
        exactly_100=sum(1 for t in trades if t.signal.confidence == 100.0),
        by_confidence=tuple(
            Band(low, high, Tally.of([t for t in trades if _in(t.signal.confidence, low, high)]))
            for low, high in BANDS
        ),
        histogram=tuple((i * HISTOGRAM_WIDTH, n) for i, n in enumerate(counts)),
    )
