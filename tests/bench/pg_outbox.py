"""The outbox on PostgreSQL next to SQLite: drain signals/s and steady commit→delivered
latency with 1, 2 and 4 relay processes on one outbox (issue 14). On 2 cores the point is
the ratio: throughput holds and latency does not degrade as relays are added."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from argo.db.postgres import database_url
from argo.outbox import open_outbox
from argo.signals import open_signals
from argo.timeutil import from_text, utc_now
from tests.bench.backlog import _signal
from tests.bench.pipeline import Bench
from tests.bench.stats import percentile
from tests.kit.pgdb import argo_database, argo_rows, conninfo
from tests.kit.pipeline import outbox_counts
from tests.kit.relay import outbox_rows
from tests.support import spawn, stop, wait_for

RELAYS = (1, 2, 4)


@contextmanager
def _outbox(kind: str, folder: Path) -> Iterator[Path]:
    if kind == "sqlite":
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        yield folder / "signals.db"
        return
    with argo_database() as url:
        yield Path(url)


def _delivered(db: Path) -> int:
    url = database_url(db)
    if url is not None:
        return int(argo_rows(url, "SELECT count(delivered_at) AS n FROM sync_outbox")[0]["n"])
    return outbox_counts(db)[0]


def _fill(db: Path, count: int, offset: int = 0) -> None:
    store = open_signals(db)
    start = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        for first in range(offset, offset + count, 500):
            batch = [_signal(n, start) for n in range(first, min(first + 500, offset + count))]
            store.add_many(batch, utc_now())
    finally:
        store.close()


def _empty_alpine(bench: Bench) -> None:
    with psycopg.connect(conninfo(bench.pg_url)) as conn:
        conn.execute("TRUNCATE signals RESTART IDENTITY CASCADE")


def _relays(bench: Bench, db: Path, count: int, log: Path) -> list[Any]:
    env = bench.fresh(log.stem) | {"ARGO_DB": str(db), "RELAY_BATCH_SIZE": "200"}
    return [spawn("relay", "run", env=env, log=log.with_suffix(f".{n}.log")) for n in range(count)]


def _running(db: Path) -> int:
    outbox = open_outbox(db)
    try:
        now = utc_now()
        return sum(1 for w in outbox.admin().workers(now) if w.alive(now))
    finally:
        outbox.close()


def drain_rate(bench: Bench, kind: str, relays: int, signals: int) -> float:
    """signals/s for `relays` running processes draining `signals` rows committed at once."""
    with _outbox(kind, bench.workdir / f"pg-drain-{kind}-{relays}") as db:
        open_signals(db).close()
        procs = _relays(bench, db, relays, bench.workdir / f"drain-{kind}-{relays}.log")
        try:
            wait_for(lambda: _running(db) >= relays, timeout=60, interval=0.05)
            start = datetime(2026, 12, 1, tzinfo=UTC)
            backlog = [_signal(n, start) for n in range(signals)]
            store = open_signals(db)
            try:
                store.add_many(backlog, utc_now())  # one transaction: all visible at once
            finally:
                store.close()
            started = time.perf_counter()
            wait_for(lambda: _delivered(db) >= signals, timeout=600, interval=0.05)
            elapsed = time.perf_counter() - started
        finally:
            for proc in procs:
                stop(proc)
    return signals / elapsed


def steady_latency(
    bench: Bench, kind: str, relays: int, rate: float, seconds: float
) -> tuple[float, float]:
    """p50 and p99 ms from commit to delivered at a steady `rate` signals/s."""
    with _outbox(kind, bench.workdir / f"pg-steady-{kind}-{relays}") as db:
        _fill(db, 1)
        _empty_alpine(bench)
        procs = _relays(bench, db, relays, bench.workdir / f"steady-{kind}-{relays}.log")
        try:
            wait_for(lambda: _delivered(db) >= 1, timeout=60, interval=0.02)
            store = open_signals(db)
            halt = threading.Event()
            total = int(rate * seconds)
            try:
                started = time.perf_counter()
                for n in range(total):
                    halt.wait(max(0.0, started + n / rate - time.perf_counter()))
                    store.add(_signal(1_000_000 + n, datetime(2026, 12, 1, tzinfo=UTC)), utc_now())
            finally:
                store.close()
            wait_for(lambda: _delivered(db) >= total + 1, timeout=120, interval=0.05)
            rows = outbox_rows(db)
        finally:
            for proc in procs:
                stop(proc)
    lags = [
        (from_text(r["delivered_at"]) - from_text(r["created_at"])).total_seconds() * 1000
        for r in rows[1:]
    ]
    return percentile(lags, 50), percentile(lags, 99)


def figures(bench: Bench, *, quick: bool) -> dict[str, Any]:
    """The keys `make bench` records: pg/sqlite drain per relay count, steady p50/p99."""
    signals, seconds = (2000, 3.0) if quick else (10000, 6.0)
    out: dict[str, Any] = {}
    for kind in ("sqlite", "pg"):
        store = "postgresql" if kind == "pg" else "sqlite"
        for relays in RELAYS:
            drain = drain_rate(bench, store, relays, signals)
            p50, p99 = steady_latency(bench, store, relays, 100.0, seconds)
            out[f"outbox_{kind}_drain_{relays}_relays_per_s"] = round(drain, 1)
            out[f"outbox_{kind}_steady_{relays}_relays_p50_ms"] = round(p50, 1)
            out[f"outbox_{kind}_steady_{relays}_relays_p99_ms"] = round(p99, 1)
    for relays in RELAYS[1:]:
        first = out["outbox_pg_drain_1_relays_per_s"]
        out[f"outbox_pg_drain_ratio_{relays}_to_1"] = round(
            out[f"outbox_pg_drain_{relays}_relays_per_s"] / first, 2
        )
    return out
