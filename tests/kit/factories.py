"""Factories that fill a real Argo SQLite file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argo.db.sqlite import write_transaction
from argo.engine.decide import EngineConfig
from argo.generator import SignalFactory
from argo.outbox import EventType, OutboxEvent, encode_payload, new_event_id
from argo.prices.sources import Bar, SyntheticPriceSource
from argo.signal import Outcome, OutcomeKind, Signal
from argo.signals import open_signals
from argo.signals.port import SignalStore
from argo.signals.store import insert_events
from argo.signals.writes import StoredSignal
from argo.timeutil import to_text, utc_now


def make_signals(count: int, seed: int = 1) -> list[Signal]:
    """`count` valid signals from the synthetic source (any confidence, no cooldown)."""
    symbols = ["AAPL", "BTC-USD"]
    factory = SignalFactory(
        SyntheticPriceSource(symbols, seed), EngineConfig(base_threshold=0.0, cooldown_bars=0)
    )
    factory.warm_up(symbols)
    signals: list[Signal] = []
    index = 0
    while len(signals) < count:
        signal, _ = factory.step(symbols[index % 2])
        index += 1
        if signal is not None:
            signals.append(signal)
    return signals


def winning_outcomes(stored: Sequence[StoredSignal]) -> list[Outcome]:
    """A win at the target, +1.5 %, closing now, for each stored signal."""
    return [
        Outcome(
            s.signal.signal_id,
            s.signal.symbol,
            OutcomeKind.WIN,
            s.signal.target_price,
            1.5,
            utc_now(),
        )
        for s in stored
    ]


def close_first(db: Path, count: int) -> list[str]:
    """Record a winning outcome for the first `count` signals of Argo's database at `db`
    (in one transaction, with their outbox events); their ids."""
    store = open_signals(db)
    try:
        closed = winning_outcomes(store.signals()[:count])
        assert len(store.record_outcomes(closed, utc_now())) == count
    finally:
        store.close()
    return [o.signal_id for o in closed]


def filled_store(path: Path, count: int) -> tuple[SignalStore, list[Signal]]:
    """A store at `path` holding `count` signals, each with its outbox row."""
    store = open_signals(path)
    signals = make_signals(count)
    store.add_many(signals, utc_now())
    return store, signals


def add_outcome_event(store: SignalStore, signal_id: str) -> str:
    """Insert a `signal.outcome` event for `signal_id` (as outcome tracking will)."""
    now = utc_now()
    event = OutboxEvent(
        event_id=new_event_id(),
        event_type=EventType.SIGNAL_OUTCOME,
        signal_id=signal_id,
        payload=encode_payload({"signal_id": signal_id, "outcome": "win"}),
        created_at=to_text(now),
    )
    with write_transaction(store.connection) as conn:
        insert_events(conn, [event])
    return event.event_id


def bars_from(
    returns: Sequence[float],
    wicks: Sequence[float],
    volumes: Sequence[float],
    start: float = 100.0,
    symbol: str = "X",
) -> list[Bar]:
    """One-minute bars whose closes follow `returns` (log), with the given wicks and volumes."""
    bars, price, moment = [], start, datetime(2026, 1, 1, tzinfo=UTC)
    for ret, wick, volume in zip(returns, wicks, volumes, strict=True):
        close = max(price * math.exp(ret), 1e-4)
        high, low = max(price, close) * (1 + wick), min(price, close) * (1 - wick)
        bars.append(Bar(symbol, moment, price, high, low, close, volume))
        price, moment = close, moment + timedelta(minutes=1)
    return bars
