"""Outcome statistics of the `signals` table: what the stored signals made.

Read-only and computed afresh on every call (`SignalStore.outcome_stats`, on SQLite and
PostgreSQL alike), so the figures survive restarts and count every signal, whichever
process stored or judged it. Counts are by symbol and strategy, or by confidence band (the
bands of argo/reports/reliability.py). This module holds the values; the queries are the store's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from argo.reports.reliability import BANDS, Tally


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
    def from_row(cls, row: Mapping[str, Any]) -> Counts:
        """From the columns of `argo.signals.queries.AGGREGATES` (a sum is NULL for none)."""
        return cls(
            int(row["signals"]),
            int(row["closed"]),
            int(row["wins"] or 0),
            int(row["losses"] or 0),
            int(row["expired"] or 0),
            float(row["profit_loss_pct_sum"] or 0.0),
        )

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.signals + other.signals,
            self.closed + other.closed,
            self.wins + other.wins,
            self.losses + other.losses,
            self.expired + other.expired,
            self.profit_loss_pct_sum + other.profit_loss_pct_sum,
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


EMPTY = Counts(0, 0, 0, 0, 0, 0.0)


@dataclass(frozen=True, slots=True)
class GroupCounts:
    symbol: str
    strategy: str
    counts: Counts


@dataclass(frozen=True, slots=True)
class OutcomeStats:
    """The counts per (symbol, strategy), and per confidence band (every band listed)."""

    groups: list[GroupCounts]
    bands: list[tuple[float, float, Counts]]

    @classmethod
    def from_rows(
        cls, groups: Iterable[Mapping[str, Any]], bands: Iterable[Mapping[str, Any]]
    ) -> OutcomeStats:
        """From the rows of a dialect's `outcome_groups` and `outcome_bands` queries."""
        found = {int(row["band"]): Counts.from_row(row) for row in bands}
        return cls(
            groups=[GroupCounts(r["symbol"], r["strategy"], Counts.from_row(r)) for r in groups],
            bands=[(low, high, found.get(i, EMPTY)) for i, (low, high) in enumerate(BANDS)],
        )

    @property
    def overall(self) -> Counts:
        """Every signal counted once."""
        return sum((g.counts for g in self.groups), EMPTY)
