"""`relay verify`: reconcile a window on a live system, and repair what is missing.

Argo's side is read through its signal store (`SignalStore.committed_in`), the same on a
SQLite file and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from argo.signals.replay import ReplayCount, SignalStore, enqueue_ids
from relay.deliver import Deliverer
from relay.reconcile import Reconciliation, reconcile


def verify(
    signals: SignalStore,
    deliverer: Deliverer,
    since: datetime,
    until: datetime,
    progress: Callable[[int], None] = lambda n: None,
) -> Reconciliation:
    """Compare Argo's committed signals in [since, until) with Alpine's list.

    Argo is read first, then Alpine page by page (`progress` gets each page's size), then
    Argo again for the signals Alpine holds that the first read did not see (committed
    meanwhile), so a running generator and relay never show up as a difference.
    """
    argo = signals.committed_in(since, until)
    alpine: dict[str, str] = {}
    cursor: str | None = None
    while True:
        page, cursor = deliverer.listing(since, until, cursor)
        alpine.update(page)
        progress(len(page))
        if not cursor:
            break
    late = [signal_id for signal_id in alpine if signal_id not in argo]
    if late:
        argo.update(signals.committed_ids(late))
    return reconcile(argo, alpine)


def repair(signals: SignalStore, missing: list[str], now: datetime) -> ReplayCount:
    """Enqueue fresh events (creation, execution and outcome if any) for exactly the
    missing ones."""
    return enqueue_ids(signals, missing, now)
