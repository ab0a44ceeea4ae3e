"""The Signal value: identity, validation and the canonical SHA-256 both sides agree on.

The canonical form is pinned by schema/hash-vectors.json; Alpine implements the same
rule independently and is tested against the same vectors.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
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
NUMERIC_FIELDS = frozenset({"entry_price", "target_price", "stop_price", "confidence"})


class Action(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class AssetType(StrEnum):
    STOCK = "stock"
    CRYPTO = "crypto"


class Regime(StrEnum):
    BULL = "BULL"
    BEAR = "BEAR"
    CHOP = "CHOP"
    CRISIS = "CRISIS"


def canonical_json(fields: Mapping[str, Any]) -> str:
    """The canonical JSON text of the nine hashed fields (numbers as floats)."""
    doc = {
        name: float(fields[name]) if name in NUMERIC_FIELDS else fields[name]
        for name in HASHED_FIELDS
    }
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def canonical_hash(fields: Mapping[str, Any]) -> str:
    """Hex SHA-256 of `canonical_json(fields)`."""
    return hashlib.sha256(canonical_json(fields).encode("ascii")).hexdigest()


def derive_signal_id(symbol: str, action: str, timestamp: str, strategy: str) -> str:
    """16 hex chars from the signal's identity: the same signal always gets the same id."""
    identity = "|".join((symbol, action, timestamp, strategy))
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]


def check_prices(action: Action, entry: float, target: float, stop: float) -> None:
    """Raise ValueError unless prices are finite, positive and ordered for the action."""
    for name, value in (("entry_price", entry), ("target_price", target), ("stop_price", stop)):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    if action is Action.BUY and not stop < entry < target:
        raise ValueError(f"BUY needs stop < entry < target, got {stop} / {entry} / {target}")
    if action is Action.SELL and not target < entry < stop:
        raise ValueError(f"SELL needs target < entry < stop, got {target} / {entry} / {stop}")


@dataclass(frozen=True, slots=True)
class Signal:
    """One trading signal as Argo stores and sends it."""

    signal_id: str
    symbol: str
    action: Action
    entry_price: float
    target_price: float
    stop_price: float
    confidence: float
    strategy: str
    asset_type: AssetType
    data_source: str
    timestamp: str
    sha256: str
    reasoning: str
    regime: Regime

    @classmethod
    def create(
        cls,
        *,
        symbol: str,
        action: Action,
        entry_price: float,
        target_price: float,
        stop_price: float,
        confidence: float,
        strategy: str,
        asset_type: AssetType,
        data_source: str,
        timestamp: str,
        reasoning: str,
        regime: Regime,
    ) -> Signal:
        """Validate the fields, derive `signal_id` and compute `sha256`."""
        check_prices(action, entry_price, target_price, stop_price)
        if not (math.isfinite(confidence) and 0 <= confidence <= 100):
            raise ValueError(f"confidence must be in [0, 100], got {confidence!r}")
        signal_id = derive_signal_id(symbol, action.value, timestamp, strategy)
        fields: dict[str, Any] = {
            "signal_id": signal_id,
            "symbol": symbol,
            "action": action.value,
            "entry_price": entry_price,
            "target_price": target_price,
            "stop_price": stop_price,
            "confidence": confidence,
            "strategy": strategy,
            "timestamp": timestamp,
        }
        return cls(
            signal_id=signal_id,
            symbol=symbol,
            action=action,
            entry_price=float(entry_price),
            target_price=float(target_price),
            stop_price=float(stop_price),
            confidence=float(confidence),
            strategy=strategy,
            asset_type=asset_type,
            data_source=data_source,
            timestamp=timestamp,
            sha256=canonical_hash(fields),
            reasoning=reasoning,
            regime=regime,
        )

    def to_payload(self) -> dict[str, Any]:
        """The wire body of a `signal.created` event (schema/signal.schema.json)."""
        return {
            "signal_id": self.signal_id,
            "symbol": self.symbol,
            "action": self.action.value,
            "entry_price": self.entry_price,
            "target_price": self.target_price,
            "stop_price": self.stop_price,
            "confidence": self.confidence,
            "strategy": self.strategy,
            "asset_type": self.asset_type.value,
            "data_source": self.data_source,
            "timestamp": self.timestamp,
            "sha256": self.sha256,
            "reasoning": self.reasoning,
            "regime": self.regime.value,
        }


class OutcomeKind(StrEnum):
    WIN = "win"
    LOSS = "loss"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Outcome:
    signal_id: str
    symbol: str
    outcome: OutcomeKind
    exit_price: float
    profit_loss_pct: float
    closed_at: datetime
