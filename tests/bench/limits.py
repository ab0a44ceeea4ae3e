"""The limits of the parts the pipeline stands on, measured in the same run."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from alpine.migrations import upgrade
from alpine.store import make_engine
from argo.db.schema import statements
from argo.db.schema_files import argo_sql
from tests.bench.stats import Figure, repeat
from tests.kit.factories import make_signals
from tests.kit.pgdb import conninfo, create_database, drop_database, url_for
from tests.support import ROOT, free_port, stop, wait_for

_SIGNAL = (
    "INSERT INTO signals (signal_id, symbol, action, entry_price, target_price, stop_price,"
    " confidence, strategy, asset_type, data_source, timestamp, sha256, created_at, reasoning,"
    " regime) VALUES (?, 'AAPL', 'BUY', 100.5, 110.25, 95.125, 91.5, 's', 'stock', 'bench',"
    " ?, ?, ?, 'r', 'BULL')"
)
_EVENT = (
    "INSERT INTO sync_outbox (event_id, event_type, signal_id, payload, created_at,"
    " next_attempt_at) VALUES (?, 'signal.created', ?, ?, ?, ?)"
)
_PAYLOAD = json.dumps({"x": "y" * 560})


def _fresh_sqlite(path: Path) -> sqlite3.Connection:
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    for statement in statements(argo_sql()):
        conn.execute(statement)
    return conn


def sqlite_rate(workdir: Path, per_tx: int, total: int, runs: int) -> Figure:
    """Signal + outbox row pairs per second, `per_tx` pairs per transaction."""

    def measure() -> float:
        conn = _fresh_sqlite(workdir / "limit.db")
        started = time.perf_counter()
        for tx in range(total // per_tx):
            conn.execute("BEGIN IMMEDIATE")
            for i in range(per_tx):
                n = tx * per_tx + i
                sid = f"{n:016x}"
                stamp = f"2026-01-01T00:00:00.{n % 1000000:06d}Z"
                conn.execute(_SIGNAL, (sid, stamp, f"{n:064x}", stamp))
                conn.execute(_EVENT, (f"evt_{n}", sid, _PAYLOAD, stamp, stamp))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
        return (total // per_tx) * per_tx / elapsed

    return repeat(measure, runs)


def pg_batch_rate(total: int, runs: int) -> Figure:
    """Rows per second into Alpine's signals table, 100 per transaction, as one
    jsonb parameter expanded by jsonb_populate_recordset (the fastest honest method
    measured with psycopg; see docs/performance.md)."""
    name = create_database("argo_alpine_bench_limit")
    engine = make_engine(url_for(name))
    upgrade(engine)
    engine.dispose()
    signals = make_signals(total)
    rows = [
        {
            "signal_id": s.signal_id,
            "verification_hash": s.sha256,
            "symbol": s.symbol,
            "action": s.action.value,
            "entry_price": s.entry_price,
            "target_price": s.target_price,
            "stop_price": s.stop_price,
            "confidence": s.confidence,
            "strategy": s.strategy,
            "asset_type": s.asset_type.value,
            "data_source": s.data_source,
            "timestamp": s.timestamp,
            "reasoning": s.reasoning,
            "regime": s.regime.value,
            "api_key_id": "key_bench",
        }
        for s in signals
    ]
    insert = (
        "INSERT INTO signals (signal_id, verification_hash, symbol, action, entry_price,"
        " target_price, stop_price, confidence, strategy, asset_type, data_source, timestamp,"
        " reasoning, regime, api_key_id) SELECT signal_id, verification_hash, symbol, action,"
        " entry_price, target_price, stop_price, confidence, strategy, asset_type, data_source,"
        " timestamp, reasoning, regime, api_key_id"
        " FROM jsonb_populate_recordset(NULL::signals, %s::jsonb) ON CONFLICT DO NOTHING"
    )
    try:
        with psycopg.connect(conninfo(url_for(name))) as conn:

            def measure() -> float:
                conn.execute("TRUNCATE signals CASCADE")
                conn.commit()
                started = time.perf_counter()
                for start in range(0, total, 100):
                    conn.execute(insert, (json.dumps(rows[start : start + 100]),))
                    conn.commit()
                return total / (time.perf_counter() - started)

            return repeat(measure, runs)
    finally:
        drop_database(name)


def http_single_rate(total: int, runs: int, workdir: Path) -> Figure:
    """~600-byte JSON POSTs per second, one at a time, to a no-op Starlette endpoint."""
    port = free_port()
    log = (workdir / "noop.log").open("wb")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.bench.noop_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    body = json.dumps({"signal_id": "0" * 16, "pad": "x" * 560}).encode()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:

            def up() -> bool:
                try:
                    return client.post("/noop", content=b"{}").status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, timeout=20, what="the no-op server")

            def measure() -> float:
                started = time.perf_counter()
                for _ in range(total):
                    client.post("/noop", content=body, headers={"Content-Type": "application/json"})
                return total / (time.perf_counter() - started)

            return repeat(measure, runs)
    finally:
        stop(server)
        log.close()
