"""What Alpine accepts, checked before anything touches the database.

schema/alpine/*/0001_signals.sql and 0003_exact_checks.sql mirror these rules as
CHECK constraints. Timestamps follow alpine/timestamps.py.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

from alpine.timestamps import parse_timestamp

SYMBOL_PATTERN = r"^[A-Z0-9]{1,10}([.\-/][A-Z0-9]{1,10})?$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:/+\-]{0,63}$"
MAX_REASONING_CHARS = 2000
MAX_BATCH = 500
MAX_TRACEPARENT_CHARS = 64  # `00-` + 32 + `-` + 16 + `-` + 2 is 55

Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NAME_PATTERN)]
SignalId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
Timestamp = Annotated[str, StringConstraints(max_length=40)]


def _check_text(value: str | None) -> str | None:
    """Refuse NUL and anything that is not encodable as UTF-8 (lone surrogates)."""
    if value is None:
        return None
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode (no lone surrogates)") from exc
    return value


class SignalIn(BaseModel):
    """One signal as Argo sends it (schema/signal.schema.json)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    signal_id: SignalId
    symbol: Annotated[str, StringConstraints(max_length=21, pattern=SYMBOL_PATTERN)]
    action: Literal["BUY", "SELL"]
    entry_price: Price
    target_price: Price
    stop_price: Price
    confidence: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    strategy: Name
    asset_type: Literal["stock", "crypto"]
    data_source: Name
    timestamp: Timestamp
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    reasoning: Annotated[str, StringConstraints(max_length=MAX_REASONING_CHARS)] | None = None
    regime: Literal["BULL", "BEAR", "CHOP", "CRISIS"] | None = None

    @field_validator("reasoning")
    @classmethod
    def _clean_text(cls, value: str | None) -> str | None:
        return _check_text(value)

    @field_validator("timestamp")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    @model_validator(mode="after")
    def _price_order(self) -> Self:
        entry, target, stop = self.entry_price, self.target_price, self.stop_price
        if self.action == "BUY" and not stop < entry < target:
            raise ValueError("BUY needs stop_price < entry_price < target_price")
        if self.action == "SELL" and not target < entry < stop:
            raise ValueError("SELL needs target_price < entry_price < stop_price")
        return self

    @cached_property
    def moment(self) -> datetime:
        """`timestamp` as an aware UTC datetime."""
        return parse_timestamp(self.timestamp)


TraceParent = Annotated[str, StringConstraints(max_length=MAX_TRACEPARENT_CHARS)]


class SignalBatchIn(BaseModel):
    """`{"signals": [...]}`, at most 500 items: the fast path when every item is valid.
    `traceparents` (optional, tracing on): each item's W3C trace context, in item order;
    outside the signals, so nothing hashed or compared depends on it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    signals: Annotated[list[SignalIn], Field(min_length=1, max_length=MAX_BATCH)]
    traceparents: Annotated[list[TraceParent], Field(max_length=MAX_BATCH)] | None = None


class OutcomeIn(BaseModel):
    """A closed signal's outcome (`signal.outcome` event)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    signal_id: SignalId
    outcome: Literal["win", "loss", "expired"]
    exit_price: Price
    profit_loss_pct: Annotated[float, Field(allow_inf_nan=False)]
    closed_at: Timestamp

    @field_validator("closed_at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    @cached_property
    def closed_moment(self) -> datetime:
        return parse_timestamp(self.closed_at)


def profit_loss_problem(action: str, profit_loss_pct: float) -> str | None:
    """Why `profit_loss_pct` is impossible for a signal of `action`, else None.

    A long position (BUY) loses at most everything: P&L >= -100 %. A short (SELL)
    gains at most everything, (1 - exit/entry) <= 100 %, and can lose without bound.
    """
    if action == "BUY" and profit_loss_pct < -100:
        return "profit_loss_pct: a BUY cannot lose more than 100 %"
    if action == "SELL" and profit_loss_pct > 100:
        return "profit_loss_pct: a SELL cannot gain more than 100 %"
    return None


def describe(error: PydanticValidationError) -> str:
    """One readable line naming each bad field and why."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts[:10])
