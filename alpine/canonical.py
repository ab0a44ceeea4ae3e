"""Alpine's own implementation of the canonical signal hash (schema/hash-vectors.json).

Deliberately independent of Argo's code: the two companies share only the contract.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

HASHED_FIELDS = (
    "signal_id",
    "symbol",
    "action",
    "entry_price",
    "target_price",
    "stop_price",
    "confidence",
    "strategy",
    "timestamp",
)
_NUMERIC = frozenset({"entry_price", "target_price", "stop_price", "confidence"})
# json's own C string encoder: the exact escaping json.dumps(ensure_ascii=True) writes.
_quote: Any = json.encoder.encode_basestring_ascii


def verification_hash(signal: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the sorted, compact, ASCII JSON of the nine hashed fields."""
    return hashlib.sha256(canonical_text(signal).encode("ascii")).hexdigest()


def canonical_text(signal: Mapping[str, Any]) -> str:
    """The exact text that is hashed: `json.dumps` of the nine fields with sorted keys,
    separators `,` `:`, ASCII escapes, numbers as floats, NaN and infinities refused.

    Written directly (the keys are fixed) rather than through `json.dumps`, which builds
    and sorts a dict for every signal; a value of another type than the contract's
    takes the general path, so the text is the same for every input.
    """
    signal_id, symbol, action, entry, target, stop, confidence, strategy, timestamp = (
        signal[name] for name in HASHED_FIELDS
    )
    if not (
        type(signal_id) is str
        and type(symbol) is str
        and type(action) is str
        and type(strategy) is str
        and type(timestamp) is str
    ):
        return _general_text(signal)
    entry, target, stop, confidence = float(entry), float(target), float(stop), float(confidence)
    finite = math.isfinite
    if not (finite(entry) and finite(target) and finite(stop) and finite(confidence)):
        raise ValueError("Out of range float values are not JSON compliant")
    return (
        f'{{"action":{_quote(action)},"confidence":{confidence!r},"entry_price":{entry!r},'
        f'"signal_id":{_quote(signal_id)},"stop_price":{stop!r},'
        f'"strategy":{_quote(strategy)},"symbol":{_quote(symbol)},'
        f'"target_price":{target!r},"timestamp":{_quote(timestamp)}}}'
    )


def _general_text(signal: Mapping[str, Any]) -> str:
    canonical = {
        name: float(signal[name]) if name in _NUMERIC else signal[name] for name in HASHED_FIELDS
    }
    return json.dumps(
        canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


# The fields of an outcome or an execution that its hash covers (receipts, the record).
UPDATE_FIELDS = {
    "signal.outcome": ("signal_id", "outcome", "exit_price", "profit_loss_pct", "closed_at"),
    "signal.executed": ("signal_id", "order_id", "executed_at", "fill_price"),
}


def moment_text(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds and `Z`: how receipts and update hashes write time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def update_hash(event: str, values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an outcome's or execution's recorded fields (datetimes or their
    text as `moment_text` writes it)."""
    fields = {}
    for name in UPDATE_FIELDS[event]:
        value = values[name]
        fields[name] = moment_text(value) if isinstance(value, datetime) else value
    text = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(text).hexdigest()
