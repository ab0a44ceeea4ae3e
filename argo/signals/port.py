"""The signal store's one face, whichever database holds it: `SqliteSignalStore`
(`argo.signals.store`) and `PgSignalStore` (`argo.signals.pg_store`) implement it as
siblings; `argo.signals.open_signals` picks one from ARGO_DB."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from argo.outbox.events import OutboxEvent
from argo.reports.stats import OutcomeStats
from argo.signal import Outcome, Signal
from argo.signals.inventory import Committed
from argo.signals.reads import ClosedSignal, Recorded
from argo.signals.writes import StoredSignal
from argo.trades import Fill, Trade


class SignalStore(Protocol):
    """Signals and their outbox events: each write one transaction; the reads reports,
    replay and `relay verify` need."""

    def add(self, signal: Signal, now: datetime) -> bool: ...

    def add_many(
        self, signals: Sequence[Signal], now: datetime, traces: Mapping[str, str] | None = None
    ) -> list[Signal]: ...

    def record_outcomes(
        self, outcomes: Sequence[Outcome], now: datetime, traces: Mapping[str, str] | None = None
    ) -> list[Outcome]: ...

    def record_executions(self, fills: Sequence[Fill], now: datetime) -> list[Fill]: ...

    def append_events(self, events: Sequence[OutboxEvent]) -> None: ...

    def signals(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        symbol: str | None = None,
        limit: int | None = None,
    ) -> list[StoredSignal]: ...

    def signals_with_ids(self, signal_ids: Sequence[str]) -> list[StoredSignal]: ...

    def open_signals(self) -> list[StoredSignal]: ...

    def trades(self) -> list[Trade]: ...

    def outbox_backlog(self) -> tuple[int, datetime | None]: ...

    def outcome_stats(self, since: datetime | None = None) -> OutcomeStats: ...

    def committed_in(self, since: datetime, until: datetime) -> dict[str, Committed]: ...

    def committed_ids(self, signal_ids: Iterable[str]) -> dict[str, Committed]: ...

    def closed_of(self, signal_ids: Sequence[str]) -> list[ClosedSignal]: ...

    def fills_of(self, signal_ids: Sequence[str]) -> list[Fill]: ...

    def recorded(self, signal_id: str) -> Recorded | None: ...

    def signal_ids(self) -> set[str]: ...

    def ring(self) -> None: ...

    def close(self) -> None: ...
