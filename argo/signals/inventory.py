"""How far a committed signal's creation got: the values of the Argo side of `relay
verify` (read by `SignalReads.committed_in` / `committed_ids` on either store)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Delivery(StrEnum):
    """How far a signal's creation got."""

    DELIVERED = "delivered"  # acknowledged by Alpine (or pruned after that)
    PENDING = "pending"  # an event is still on its way
    DEAD = "dead"  # every creation event is a dead letter


@dataclass(frozen=True, slots=True)
class Committed:
    signal_id: str
    sha256: str
    delivery: Delivery
