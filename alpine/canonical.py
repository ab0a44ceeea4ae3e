"""Alpine's own implementation of the canonical signal hash (schema/hash-vectors.json).

Deliberately independent of Argo's code: the two companies share only the contract.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
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


def verification_hash(signal: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the sorted, compact, ASCII JSON of the nine hashed fields."""
    canonical = {
        name: float(signal[name]) if name in _NUMERIC else signal[name] for name in HASHED_FIELDS
    }
    text = json.dumps(
        canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()
