"""`argo run` as a real process: cycles, outcomes, metrics, SIGTERM; CSV replay of real data."""

from __future__ import annotations

import re
import signal
import sqlite3
from pathlib import Path

import httpx

from tests.support import ROOT, cli, free_port, spawn, wait_for

SAMPLES = ROOT / "argo" / "samples"


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "ARGO_DB": str(tmp_path / "signals.db"),
        "ARGO_AUDIT_LOG": str(tmp_path / "signals.log"),
        **extra,
    }


def counts(db: Path) -> tuple[int, int, int]:
    """(signals, outcomes, outbox rows)."""
    if not db.exists():
        return 0, 0, 0
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            signals, outcomes = conn.execute(
                "SELECT count(*), count(outcome) FROM signals"
            ).fetchone()
            events = conn.execute("SELECT count(*) FROM sync_outbox").fetchone()[0]
        except sqlite3.OperationalError:
            return 0, 0, 0
    return int(signals), int(outcomes), int(events)


def test_run_cycles_tracks_outcomes_serves_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = env_for(tmp_path, ARGO_METRICS_PORT=str(port))
    db = tmp_path / "signals.db"
    process = spawn(
        "argo",
        "run",
        "--interval",
        "0.02",
        "--expire-after",
        "2s",
        env=env,
        log=tmp_path / "argo.log",
    )
    try:
        wait_for(lambda: counts(db)[1] >= 3, timeout=90, what="outcomes to be recorded")
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, (tmp_path / "argo.log").read_text()
    signals, outcomes, events = counts(db)
    assert events == signals + outcomes  # one created event per signal, one per outcome
    assert re.search(r"^argo_outbox_pending \d+", text, re.MULTILINE)
    assert "argo_outbox_oldest_pending_age_seconds" in text
    assert "argo_signals_generated_total{" in text and "argo_signal_store_seconds_bucket" in text
    assert 'argo_signal_latency_seconds_bucket{le="0.5"}' in text
    # Outcome statistics come from the table: the outcomes waited for above are counted.
    closed = re.findall(r"^argo_signals_closed\{[^}]*\} (\S+)", text, re.MULTILINE)
    assert sum(float(v) for v in closed) >= 3 and "argo_signals_win_rate{" in text
    verified = cli("argo", "audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    with sqlite3.connect(db) as conn:
        kinds = {
            row[0] for row in conn.execute("SELECT outcome FROM signals WHERE outcome IS NOT NULL")
        }
    assert kinds <= {"win", "loss", "expired"}


def test_csv_replay_of_the_shipped_real_data_emits_signals(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    result = cli(
        "argo",
        "run",
        "--source",
        f"csv:{SAMPLES / 'GOOG-2004-2006.csv'}",
        "--symbols",
        "GOOG",
        "--interval",
        "0.01",
        "--metrics-port",
        "0",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "exhausted" in result.stderr or "stopped" in result.stderr
    with sqlite3.connect(tmp_path / "signals.db") as conn:
        rows = conn.execute("SELECT symbol, data_source, action FROM signals").fetchall()
    assert len(rows) >= 3
    assert {r[0] for r in rows} == {"GOOG"} and rows[0][1] == "csv:GOOG-2004-2006.csv"


def test_csv_with_a_missing_column_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,open,high,low,close\n2024-01-02,1,2,0.5,1.5\n")
    result = cli(
        "argo", "generate", "--count", "1", "--source", f"csv:{bad}", env=env_for(tmp_path)
    )
    assert result.returncode == 2 and "missing column(s) volume" in result.stderr
