"""`relay verify`: Argo's committed signals against Alpine's (signal_id, sha256) list. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from argo.signals.inventory import Committed, Delivery

SHOWN = 5


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Every signal of the window in exactly one bucket."""

    matched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # committed, not pending, not in Alpine
    mismatched: list[str] = field(default_factory=list)  # in both, hashes differ
    unknown: list[str] = field(default_factory=list)  # in Alpine, never committed in Argo
    pending: list[str] = field(default_factory=list)  # on its way: not yet due in Alpine

    @property
    def ok(self) -> bool:
        """Nothing lost and nothing altered (pending and unknown do not fail it)."""
        return not self.missing and not self.mismatched

    def as_dict(self) -> dict[str, object]:
        buckets = ("matched", "missing", "mismatched", "unknown", "pending")
        report: dict[str, object] = {name: len(getattr(self, name)) for name in buckets}
        report["first"] = {name: sorted(getattr(self, name))[:SHOWN] for name in buckets[1:]}
        report["ok"] = self.ok
        return report


def reconcile(argo: Mapping[str, Committed], alpine: Mapping[str, str]) -> Reconciliation:
    """Sort each signal of both sides into its bucket."""
    result = Reconciliation()
    for signal_id, committed in argo.items():
        stored = alpine.get(signal_id)
        if stored is None:
            pending = committed.delivery is Delivery.PENDING
            (result.pending if pending else result.missing).append(signal_id)
        elif stored == committed.sha256:
            result.matched.append(signal_id)
        else:
            result.mismatched.append(signal_id)
    result.unknown.extend(s for s in alpine if s not in argo)
    return result
