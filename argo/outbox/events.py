"""Outbox events: what Argo announces to Alpine, built from stored changes.

This is Argo's public payload API; the relay uses it to rebuild events for replay.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from argo.signal import Signal
from argo.timeutil import to_text


class EventType(StrEnum):
    SIGNAL_CREATED = "signal.created"
    SIGNAL_OUTCOME = "signal.outcome"
    SIGNAL_EXECUTED = "signal.executed"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One row to insert into sync_outbox, in the same transaction as its change."""

    event_id: str
    event_type: EventType
    signal_id: str
    payload: str
    created_at: str
    traceparent: str | None = None  # the writing span's W3C trace context (tracing on)


def encode_payload(body: dict[str, Any]) -> str:
    """The exact JSON text sent on the wire (and signed): compact, ASCII, no NaN."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def new_event_id() -> str:
    """A fresh, unique idempotency key for an outbox event (sent as `webhook-id`)."""
    return f"evt_{uuid.uuid4().hex}"


def _event(
    event_type: EventType,
    signal_id: str,
    body: dict[str, Any],
    now: datetime,
    traceparent: str | None = None,
) -> OutboxEvent:
    return OutboxEvent(
        event_id=new_event_id(),
        event_type=event_type,
        signal_id=signal_id,
        payload=encode_payload(body),
        created_at=to_text(now),
        traceparent=traceparent,
    )


def outcome_event(
    signal_id: str,
    outcome: str,
    exit_price: float,
    profit_loss_pct: float,
    closed_at: datetime,
    now: datetime,
    traceparent: str | None = None,
) -> OutboxEvent:
    """The `signal.outcome` event announcing a closed signal (Alpine's OutcomeIn)."""
    body = {
        "signal_id": signal_id,
        "outcome": outcome,
        "exit_price": float(exit_price),
        "profit_loss_pct": float(profit_loss_pct),
        "closed_at": to_text(closed_at),
    }
    return _event(EventType.SIGNAL_OUTCOME, signal_id, body, now, traceparent)


def executed_event(
    signal_id: str, order_id: str, fill_price: float, executed_at: datetime, now: datetime
) -> OutboxEvent:
    """The `signal.executed` event announcing a traded signal's fill (Alpine's
    POST /api/v1/argo/sync/execution)."""
    body = {
        "signal_id": signal_id,
        "order_id": order_id,
        "executed_at": to_text(executed_at),
        "fill_price": float(fill_price),
    }
    return _event(EventType.SIGNAL_EXECUTED, signal_id, body, now)


def created_event(signal: Signal, now: datetime, traceparent: str | None = None) -> OutboxEvent:
    """The `signal.created` event announcing `signal` (`traceparent`: the span that made it)."""
    return _event(EventType.SIGNAL_CREATED, signal.signal_id, signal.to_payload(), now, traceparent)
