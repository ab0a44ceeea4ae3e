"""`relay verify`: reconcile a window on a live system, and repair what is missing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from argo.outbox import OutboxStore
from argo.outbox.inventory import committed_ids, committed_in
from argo.outbox.replay import ReplayCount, enqueue_ids
from relay.deliver import Deliverer
from relay.reconcile import Reconciliation, reconcile


def verify(
    outbox: OutboxStore,
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
    argo = committed_in(outbox.connection, since, until)
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
        argo.update(committed_ids(outbox.connection, late))
    return reconcile(argo, alpine)


def repair(outbox: OutboxStore, missing: list[str], now: datetime) -> ReplayCount:
    """Enqueue fresh events (creation, and outcome if any) for exactly the missing ones."""
    return enqueue_ids(outbox.connection, missing, now)
