"""`relay verify`: reconcile a window on a live system, and repair what is missing.

Argo's side is read through its signal store (`SignalStore.committed_in`), the same on a
SQLite file and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from argo.outbox import ReceiptBook
from argo.signals.replay import ReplayCount, SignalStore, enqueue_ids
from relay.deliver import Deliverer
from relay.receipt_audit import Held, ReceiptAudit, audit
from relay.receipts import ReceiptKeys
from relay.reconcile import Reconciliation, reconcile


@dataclass(frozen=True, slots=True)
class Verification:
    """The reconciliation of a window, and its receipts' audit."""

    reconciliation: Reconciliation
    receipts: ReceiptAudit
    keys_source: str  # "pinned" (RELAY_ALPINE_RECEIPT_KEYS) or "alpine" (its /api/v1/keys)

    @property
    def ok(self) -> bool:
        return self.reconciliation.ok and self.receipts.ok

    def as_dict(self) -> dict[str, object]:
        report = self.reconciliation.as_dict()
        report["receipts"] = self.receipts.as_dict() | {"keys": self.keys_source}
        report["ok"] = self.ok
        return report


def verify(
    signals: SignalStore,
    deliverer: Deliverer,
    since: datetime,
    until: datetime,
    progress: Callable[[int], None] = lambda n: None,
    receipts: ReceiptBook | None = None,
    keys: ReceiptKeys | None = None,
) -> Verification:
    """Compare Argo's committed signals in [since, until) with Alpine's list, and check
    the receipts kept for them (signed by `keys`, or by the keys Alpine serves when none
    are pinned; Alpine still holds what each one names).

    Argo is read first, then Alpine page by page (`progress` gets each page's size), then
    Argo again for the signals Alpine holds that the first read did not see (committed
    meanwhile), so a running generator and relay never show up as a difference.
    """
    argo = signals.committed_in(since, until)
    alpine: dict[str, Held] = {}
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
    reconciliation = reconcile(argo, {k: held.sha256 for k, held in alpine.items()})
    kept = receipts.for_signals(argo) if receipts is not None else []
    source = "pinned"
    if kept and keys is None:
        keys, source = deliverer.receipt_keys(), "alpine"
    audited = audit(kept, keys, alpine) if keys is not None else ReceiptAudit()
    return Verification(reconciliation, audited, source)


def repair(signals: SignalStore, missing: list[str], now: datetime) -> ReplayCount:
    """Enqueue fresh events (creation, execution and outcome if any) for exactly the
    missing ones."""
    return enqueue_ids(signals, missing, now)
