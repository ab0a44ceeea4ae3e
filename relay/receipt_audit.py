"""`relay verify`'s receipt check: every kept receipt is signed by Alpine, and Alpine still
holds what it signed. Pure: the receipts, the keys and Alpine's listing come in.

A receipt is Alpine's word that it stored an event with a given SHA-256. If the signature
does not hold, the receipt is not Alpine's; if Alpine's listing no longer has the signal,
or its fields, outcome or execution now hash to something else, Alpine's record changed
after it signed (a deleted signal, an edited byte, a rewritten P&L).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from argo.outbox import EventType, KeptReceipt
from relay.receipts import ReceiptKeys

SHOWN = 5


@dataclass(frozen=True, slots=True)
class Held:
    """What Alpine's listing says it holds for one signal now (hashes recomputed on read)."""

    sha256: str
    outcome_sha256: str | None = None
    execution_sha256: str | None = None
    positions: Mapping[str, int | None] | None = None  # feed seq by kind, when Alpine says

    def for_event(self, event_type: str) -> str | None:
        if event_type == EventType.SIGNAL_OUTCOME:
            return self.outcome_sha256
        if event_type == EventType.SIGNAL_EXECUTED:
            return self.execution_sha256
        return self.sha256

    def position(self, event_type: str) -> int | None:
        """The event's feed position now (None: Alpine did not say)."""
        if not self.positions:
            return None
        return self.positions.get(_KIND.get(str(event_type), "signal"))


_KIND: dict[str, str] = {
    EventType.SIGNAL_OUTCOME: "outcome",
    EventType.SIGNAL_EXECUTED: "execution",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One receipt that does not hold: which event, and why."""

    event_id: str
    event_type: str
    signal_id: str
    seq: Any
    reason: str

    def line(self) -> str:
        where = f"event {self.event_id}, seq {self.seq}"
        return f"{self.event_type} of {self.signal_id} ({where}): {self.reason}"


@dataclass(frozen=True, slots=True)
class ReceiptAudit:
    checked: int = 0
    forged: list[Finding] = field(default_factory=list)  # not signed by a key we trust
    broken: list[Finding] = field(default_factory=list)  # Alpine no longer holds what it signed

    @property
    def ok(self) -> bool:
        return not self.forged and not self.broken

    def as_dict(self) -> dict[str, object]:
        return {
            "checked": self.checked,
            "forged": len(self.forged),
            "broken": len(self.broken),
            "first": [f.line() for f in (self.forged + self.broken)[:SHOWN]],
            "ok": self.ok,
        }


def audit(
    receipts: Iterable[KeptReceipt], keys: ReceiptKeys, alpine: Mapping[str, Held]
) -> ReceiptAudit:
    """Check each receipt's signature, then that Alpine still holds the hash it signed."""
    result = ReceiptAudit()
    checked = 0
    for kept in receipts:
        checked += 1
        receipt = kept.receipt
        seq = receipt.get("seq")
        problem = keys.problem(receipt)
        if problem is not None:
            result.forged.append(_finding(kept, seq, f"receipt {problem}"))
            continue
        held = alpine.get(kept.signal_id)
        signed = str(receipt.get("sha256"))
        if held is None:
            result.broken.append(
                _finding(kept, seq, "Alpine signed that it stored it, and no longer holds it")
            )
            continue
        now = held.for_event(kept.event_type)
        position = held.position(kept.event_type)
        if now != signed:
            shown = "nothing" if now is None else f"sha256 {now[:16]}…"
            result.broken.append(
                _finding(kept, seq, f"Alpine signed sha256 {signed[:16]}… and now holds {shown}")
            )
        elif held.positions and position != seq:
            result.broken.append(
                _finding(
                    kept, seq, f"Alpine signed feed position {seq}, it now stands at {position}"
                )
            )
    return ReceiptAudit(checked, result.forged, result.broken)


def _finding(kept: KeptReceipt, seq: Any, reason: str) -> Finding:
    return Finding(kept.event_id, kept.event_type, kept.signal_id, seq, reason)
