"""When is a resend identical to what is stored? Every field the sender sent, compared
after the same normalisation on both sides (times as UTC instants, numbers as floats).

Pure functions over plain mappings: the store supplies the stored row, the caller
the validated request; the answer names the wire fields that differ.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alpine.validation import OutcomeIn, SignalIn

# wire name -> column name, in the order a `detail` lists them
SIGNAL_FIELDS = {
    "signal_id": "signal_id",
    "sha256": "verification_hash",
    "symbol": "symbol",
    "action": "action",
    "entry_price": "entry_price",
    "target_price": "target_price",
    "stop_price": "stop_price",
    "confidence": "confidence",
    "strategy": "strategy",
    "asset_type": "asset_type",
    "data_source": "data_source",
    "timestamp": "timestamp",
    "reasoning": "reasoning",
    "regime": "regime",
}
OUTCOME_FIELDS = ("outcome", "exit_price", "profit_loss_pct", "closed_at")


def signal_values(signal: SignalIn) -> dict[str, Any]:
    """The signal as it is stored, by wire name (an omitted optional field is null)."""
    values: dict[str, Any] = signal.model_dump()
    values["timestamp"] = signal.moment
    return values


def outcome_values(outcome: OutcomeIn) -> dict[str, Any]:
    values: dict[str, Any] = outcome.model_dump(include=set(OUTCOME_FIELDS))
    values["closed_at"] = outcome.closed_moment
    return values


def signal_differences(signal: SignalIn, stored: Mapping[str, Any]) -> list[str]:
    """Wire names of the fields where `signal` differs from the stored row."""
    sent = signal_values(signal)
    return [name for name, column in SIGNAL_FIELDS.items() if not _same(sent[name], stored[column])]


def outcome_differences(outcome: OutcomeIn, stored: Mapping[str, Any]) -> list[str]:
    sent = outcome_values(outcome)
    return [name for name in OUTCOME_FIELDS if not _same(sent[name], stored[name])]


def _same(sent: Any, stored: Any) -> bool:
    if isinstance(sent, datetime) or isinstance(stored, datetime):
        return isinstance(sent, datetime) and isinstance(stored, datetime) and sent == stored
    if isinstance(sent, float | int) and isinstance(stored, float | int):
        return float(sent) == float(stored)
    return bool(sent == stored)
