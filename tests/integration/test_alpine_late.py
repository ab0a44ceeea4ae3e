"""`late` is decided once, at ingest, on both dialects: received more than
late_after_seconds after the signal's own timestamp."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alpine.migrations import upgrade
from alpine.store import InsertStatus, SignalStore, make_engine
from alpine.tables import signals
from alpine.validation import SignalIn
from tests.support import signal_payload


def _signal(age: timedelta, symbol: str) -> SignalIn:
    moment = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return SignalIn.model_validate(signal_payload(timestamp=moment, symbol=symbol))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_late_is_stored_at_ingest(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'alpine.db'}"
        if dialect == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    engine = make_engine(url)
    try:
        upgrade(engine)
        store = SignalStore(engine, late_after_seconds=60)
        fresh, old = _signal(timedelta(seconds=1), "AAPL"), _signal(timedelta(minutes=5), "NVDA")
        results = store.insert_many([fresh, old], "key_test")
        assert [r.status for r in results] == [InsertStatus.CREATED] * 2
        assert [r.late for r in results] == [False, True]
        again = store.insert(old, "key_test")  # a duplicate is not counted again
        assert again.status is InsertStatus.DUPLICATE and not again.late
        with engine.connect() as conn:
            stored = dict(conn.execute(select(signals.c.signal_id, signals.c.late)).all())
        assert stored == {fresh.signal_id: False, old.signal_id: True}
    finally:
        engine.dispose()
