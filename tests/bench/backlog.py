"""Drain rates at a given backlog: does a claim cost the same with 5k, 50k or 200k rows
waiting? The outbox is filled in-process (valid signals, each with its event)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argo.signal import Action, AssetType, Regime, Signal
from argo.signals import open_signals
from argo.timeutil import to_text, utc_now
from relay.app import relay_app
from relay.config import RelayConfig
from tests.bench.pipeline import Bench

_SYMBOLS = (("AAPL", AssetType.STOCK), ("NVDA", AssetType.STOCK), ("BTC-USD", AssetType.CRYPTO))


def _signal(n: int, start: datetime) -> Signal:
    symbol, asset = _SYMBOLS[n % len(_SYMBOLS)]
    entry = 100.0 + (n % 997) / 10
    buy = n % 2 == 0
    return Signal.create(
        symbol=symbol,
        action=Action.BUY if buy else Action.SELL,
        entry_price=entry,
        target_price=entry * (1.03 if buy else 0.97),
        stop_price=entry * (0.985 if buy else 1.015),
        confidence=88.0 + (n % 120) / 10,
        strategy="bench-backlog",
        asset_type=asset,
        data_source="bench",
        timestamp=to_text(start + timedelta(microseconds=n)),
        reasoning="a backlog signal for the drain benchmark",
        regime=Regime.BULL,
    )


def fill(db: Path, count: int) -> None:
    """`count` signals, each committed with its outbox row, 1000 per transaction."""
    store = open_signals(db)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        for first in range(0, count, 1000):
            batch = [_signal(n, start) for n in range(first, min(first + 1000, count))]
            store.add_many(batch, utc_now())
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class Backlogs:
    """Filled outboxes by size, made once and copied for each measurement."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._made: dict[int, Path] = {}

    def copy(self, size: int, target: Path) -> None:
        if size not in self._made:
            path = self._folder / f"backlog-{size}.db"
            fill(path, size)
            self._made[size] = path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._made[size], target)


def _delivered(db: Path) -> int:
    """Delivered rows through their partial index: a full count of a 200k-row outbox
    every 50 ms would take a core from the relay it measures."""
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute(
            "SELECT count(*) FROM sync_outbox INDEXED BY idx_outbox_delivered"
            " WHERE delivered_at IS NOT NULL"
        ).fetchone()
    return int(row[0])


def drain_rate(
    bench: Bench,
    backlogs: Backlogs,
    backlog: int,
    deliver: int,
    *,
    batched: bool,
    attempt_log: bool = True,
) -> float:
    """Deliver the first `deliver` rows of a `backlog`-row outbox: rows/s."""
    env = bench.fresh(f"backlog-{backlog}-{'batch' if batched else 'single'}")
    db = Path(env["ARGO_DB"])
    backlogs.copy(backlog, db)
    config = RelayConfig(
        db_path=db,
        alpine_url=bench.alpine.url,
        api_key=bench.alpine.api_key,
        signing_secret=bench.alpine.signing_secret,
        worker_id="bench",
        batch_size=500 if batched else 100,
        lease_seconds=120.0,
        use_batch_endpoint=batched,
        attempt_log=attempt_log,
    )
    stop = threading.Event()

    def watch() -> None:
        deadline = time.monotonic() + 600
        while not stop.wait(0.05) and time.monotonic() < deadline:
            if _delivered(db) >= deliver:
                stop.set()

    watcher = threading.Thread(target=watch, daemon=True)
    with relay_app(config, listen_for_doorbell=False) as app:
        watcher.start()
        started = time.perf_counter()
        app.relay.drain(stop)
        elapsed = time.perf_counter() - started
    stop.set()
    watcher.join(5)
    delivered = _delivered(db)
    assert delivered >= min(deliver, backlog), (delivered, deliver)
    return delivered / elapsed
