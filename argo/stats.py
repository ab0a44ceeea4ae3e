"""Outcome statistics read from the `signals` table: what the stored signals made.

Read-only and computed afresh on every call, so the figures survive restarts and
count every signal, whichever process stored or judged it. Counts are by symbol and
strategy, or by confidence band (the bands of argo/reliability.py).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from argo.reliability import BANDS, Tally
from argo.timeutil import to_text

_AGGREGATES = (
    "count(*), count(outcome), sum(outcome = 'win'), sum(outcome = 'loss'),"
    " sum(outcome = 'expired'), sum(profit_loss_pct)"
)


@dataclass(frozen=True, slots=True)
class Counts:
    """Signals, how many closed and how, and the sum of their P&L."""

    signals: int
    closed: int
    wins: int
    losses: int
    expired: int
    profit_loss_pct_sum: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Counts:
        """From the last six columns of a row of `_AGGREGATES` (sums are NULL for none)."""
        signals, closed, wins, losses, expired, pnl = tuple(row)[-6:]
        return cls(
            int(signals),
            int(closed),
            int(wins or 0),
            int(losses or 0),
            int(expired or 0),
            float(pnl or 0.0),
        )

    def tally(self) -> Tally:
        """The rates of these counts (None where nothing closed)."""
        return Tally(
            signals=self.signals,
            open=self.signals - self.closed,
            wins=self.wins,
            losses=self.losses,
            expired=self.expired,
            win_rate=round(self.wins / self.closed, 4) if self.closed else None,
            avg_profit_loss_pct=(
                round(self.profit_loss_pct_sum / self.closed, 4) if self.closed else None
            ),
        )


@dataclass(frozen=True, slots=True)
class GroupCounts:
    symbol: str
    strategy: str
    counts: Counts


def _window(since: datetime | None) -> tuple[str, tuple[str, ...]]:
    return ("WHERE timestamp >= ?", (to_text(since),)) if since is not None else ("", ())


def by_symbol_and_strategy(
    conn: sqlite3.Connection, since: datetime | None = None
) -> list[GroupCounts]:
    """Counts per (symbol, strategy) of the signals at or after `since`."""
    where, params = _window(since)
    rows = conn.execute(
        f"SELECT symbol, strategy, {_AGGREGATES} FROM signals {where}"
        " GROUP BY symbol, strategy ORDER BY symbol, strategy",
        params,
    )
    return [GroupCounts(row[0], row[1], Counts.from_row(row)) for row in rows]


def by_confidence(
    conn: sqlite3.Connection, since: datetime | None = None
) -> list[tuple[float, float, Counts]]:
    """Counts per confidence band (low, high, counts), every band listed."""
    cases = " ".join(f"WHEN confidence < {high!r} THEN {i}" for i, (_, high) in enumerate(BANDS))
    where, params = _window(since)
    rows = conn.execute(
        f"SELECT CASE {cases} ELSE {len(BANDS) - 1} END AS band, {_AGGREGATES}"
        f" FROM signals {where} GROUP BY band",
        params,
    )
    found = {int(row[0]): Counts.from_row(row) for row in rows}
    empty = Counts(0, 0, 0, 0, 0, 0.0)
    return [(low, high, found.get(i, empty)) for i, (low, high) in enumerate(BANDS)]
