"""Replay, verify's Argo side, the audit cross-check, prune progress and backup, on a real
SQLite file and a real PostgreSQL database: one implementation, both stores."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from argo.audit import AuditLog
from argo.audit_verify import verify_store
from argo.db.postgres import database_url, is_postgres
from argo.outbox import DeadLetter, Settlement, open_outbox
from argo.signal import Outcome, OutcomeKind, Signal
from argo.signals import open_signals, open_signals_readonly
from argo.signals.inventory import Delivery
from argo.timeutil import to_text, utc_now
from argo.trades import Fill
from tests.kit.alpine import served_alpine
from tests.kit.factories import make_signals
from tests.kit.pgdb import conninfo
from tests.kit.relay import STORES, outbox_location, outbox_rows
from tests.support import cli

EVER = "2000-01-01T00:00:00Z"


@pytest.fixture(params=STORES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    with outbox_location(request.param, tmp_path) as location:
        yield location


def execute(db: Path, sql: str) -> None:
    """Run one statement on Argo's database (SQLite file or PostgreSQL)."""
    url = database_url(db)
    if url is not None:
        with psycopg.connect(conninfo(url)) as pg:
            pg.execute(sql.encode())
        return
    with sqlite3.connect(db) as conn:
        conn.execute(sql)
    conn.close()


def traded_and_closed(db: Path) -> tuple[Signal, Fill, Outcome]:
    """A signal with its execution and its outcome recorded (three events)."""
    store = open_signals(db)
    try:
        [signal] = make_signals(1)
        store.add(signal, utc_now())
        fill = Fill(
            signal.signal_id,
            "paper-0011223344556677",
            signal.symbol,
            signal.action,
            round(signal.entry_price * 1.0005, 6),
            utc_now(),
        )
        assert store.record_executions([fill], utc_now()) == [fill]
        outcome = Outcome(signal.signal_id, signal.symbol, OutcomeKind.WIN, 180.0, 2.5, utc_now())
        assert store.record_outcomes([outcome], utc_now()) == [outcome]
    finally:
        store.close()
    return signal, fill, outcome


def test_replay_enqueues_creation_execution_outcome_and_alpine_gets_them_in_order(
    db: Path, pg_url: str
) -> None:
    signal, _, _ = traded_and_closed(db)
    # The old events are dead letters: the replayed ones owe nothing to them.
    execute(db, "UPDATE sync_outbox SET dead_at = created_at")
    env = {"ARGO_DB": str(db)}
    replay = cli("relay", "replay", "--since", EVER, env=env)
    assert replay.returncode == 0, replay.stderr
    assert "enqueued 3 events (1 outcomes, 1 executions)" in replay.stdout
    fresh = [r for r in outbox_rows(db) if r["dead_at"] is None]
    assert [r["event_type"] for r in fresh] == [
        "signal.created",
        "signal.executed",
        "signal.outcome",
    ]
    alpine = served_alpine(pg_url)
    try:
        env |= {"ALPINE_API_URL": alpine.url, "ARGO_API_KEY": alpine.api_key}
        run = cli("relay", "run", "--once", env=env)
        assert run.returncode == 0, run.stdout + run.stderr
    finally:
        alpine.close()
    delivered = [r for r in outbox_rows(db) if r["dead_at"] is None]
    assert all(r["delivered_at"] and r["attempts"] == 0 for r in delivered)  # never a 404
    times = [str(r["delivered_at"]) for r in delivered]
    assert times == sorted(times)  # creation, then execution, then outcome
    with psycopg.connect(conninfo(pg_url)) as conn:
        stored = conn.execute(
            "SELECT order_id, outcome FROM signals WHERE signal_id = %s", (signal.signal_id,)
        ).fetchone()
    assert stored == ("paper-0011223344556677", "win")


def test_committed_reads_the_delivery_state_and_pruned_means_delivered(db: Path) -> None:
    store = open_signals(db)
    signals = make_signals(4)
    store.add_many(signals, utc_now())
    outbox = open_outbox(db)
    try:
        claim = outbox.claim("tester", utc_now(), 60, 3)
        rows = {r.signal_id: r.id for r in claim.rows}
        [first, second, third, fourth] = (s.signal_id for s in signals)
        outbox.settle(
            claim,
            Settlement(
                delivered=(rows[first], rows[third]),
                dead=(DeadLetter(rows[second], 0, "HTTP 409: conflict"),),
            ),
            utc_now(),
        )
    finally:
        outbox.close()
    execute(db, f"DELETE FROM sync_outbox WHERE signal_id = '{third}'")  # as a prune does
    window = store.committed_in(utc_now().replace(year=2000), utc_now() + timedelta(days=1))
    again = store.committed_ids([first, fourth, "0" * 16])
    store.close()
    assert {k: c.delivery for k, c in window.items()} == {
        first: Delivery.DELIVERED,
        second: Delivery.DEAD,
        third: Delivery.DELIVERED,  # every event pruned: it was delivered
        fourth: Delivery.PENDING,
    }
    assert {k: c.delivery for k, c in again.items()} == {
        first: Delivery.DELIVERED,
        fourth: Delivery.PENDING,
    }
    assert window[first].sha256 == signals[0].sha256


def test_prune_reports_each_batch(db: Path) -> None:
    store = open_signals(db)
    store.add_many(make_signals(7), utc_now())
    store.close()
    outbox = open_outbox(db)
    try:
        claim = outbox.claim("tester", utc_now(), 60, 10)
        outbox.settle(claim, Settlement(delivered=tuple(r.id for r in claim.rows)), utc_now())
        old = to_text(utc_now() - timedelta(days=10))
        execute(db, f"UPDATE sync_outbox SET delivered_at = '{old}' WHERE id <= {claim.rows[5].id}")
        cutoff = utc_now() - timedelta(days=7)
        admin = outbox.admin()
        assert admin.prunable(cutoff) == 6
        batches: list[int] = []
        assert admin.prune_delivered(cutoff, batch_size=4, progress=batches.append) == 6
        assert batches == [4, 2]
        assert admin.prunable(cutoff) == 0
        assert admin.prune_delivered(cutoff, progress=batches.append) == 0
        assert batches == [4, 2]  # nothing deleted, nothing reported
    finally:
        outbox.close()
    assert len(outbox_rows(db)) == 1


def test_the_audit_log_is_checked_against_either_database(db: Path, tmp_path: Path) -> None:
    signal, fill, outcome = traded_and_closed(db)
    log = tmp_path / "signals.log"
    audit = AuditLog(log)
    try:
        audit.signal_stored(signal)
        audit.execution_recorded(fill)
        audit.outcome_recorded(outcome)
    finally:
        audit.close()
    store = open_signals_readonly(db)
    try:
        report = verify_store(log, store)
        assert report.ok, report.first_problem
        assert (report.signals, report.executions, report.outcomes) == (1, 1, 1)
        assert report.warnings == []  # every stored signal has its line
        execute(db, "UPDATE signals SET fill_price = fill_price + 1")
        moved = verify_store(log, store)
        execute(db, f"UPDATE signals SET sha256 = '{'0' * 64}'")
        altered = verify_store(log, store)
    finally:
        store.close()
    assert moved.first_problem and "execution of" in moved.first_problem
    assert altered.first_problem and "another sha256" in altered.first_problem


def test_backup_on_postgresql_points_to_the_servers_tools(tmp_path: Path) -> None:
    with outbox_location("postgresql", tmp_path) as url:
        assert is_postgres(url)
        result = cli("argo", "backup", str(tmp_path / "copy.db"), env={"ARGO_DB": str(url)})
    assert result.returncode == 2
    assert "ARGO_DB" in result.stderr and "pg_dump" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "copy.db").exists()
