"""Argo's outbox on a real PostgreSQL: `argo db upgrade`, the writer's one transaction,
claims under SKIP LOCKED, leases on the server clock, fencing, the drain horizon over
commit-order gaps, and per-signal order across relays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from argo.cli.main import main as argo_main
from argo.db.postgres import migrations
from argo.outbox import Release, Settlement, open_outbox
from argo.outbox.events import OutboxEvent, created_event, outcome_event
from argo.outbox.pg_store import PgOutboxStore
from argo.signal import Signal
from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.kit.factories import make_signals
from tests.kit.pgdb import argo_database, argo_rows, conninfo
from tests.support import wait_for


@pytest.fixture
def url() -> Iterator[str]:
    with argo_database() as found:
        yield found


def _outbox(url: str) -> PgOutboxStore:
    store = open_outbox(Path(url))
    assert isinstance(store, PgOutboxStore)
    return store


def _fill(url: str, signals: list[Signal]) -> None:
    store = open_signals(Path(url))
    try:
        store.add_many(signals, utc_now())
    finally:
        store.close()


def _claim_when_due(store: PgOutboxStore, worker: str, limit: int = 50) -> list[str]:
    """Claim, waiting out any transaction elsewhere on the server that holds the horizon."""
    claim = wait_for(
        lambda: store.claim(worker, utc_now(), 30, limit).rows or None, what="due rows"
    )
    return [row.event_id for row in claim]


def test_db_upgrade_is_safe_to_run_again(url: str) -> None:
    first = CliRunner().invoke(argo_main, ["db", "upgrade", "--db", url])
    assert first.exit_code == 0, first.output
    known = sorted(migrations())
    assert "nothing to apply" in first.output and f"schema version {known[-1]}" in first.output
    versions = argo_rows(url, "SELECT version FROM argo_schema_migrations ORDER BY version")
    assert [v["version"] for v in versions] == known


def test_db_upgrade_creates_the_schema_on_an_empty_database(empty_pg_url: str) -> None:
    result = CliRunner().invoke(argo_main, ["db", "upgrade", "--db", empty_pg_url])
    assert result.exit_code == 0, result.output
    assert "0001_outbox.sql" in result.output
    assert argo_rows(empty_pg_url, "SELECT count(*) AS n FROM sync_outbox") == [{"n": 0}]


def test_the_relay_refuses_a_database_without_the_schema(empty_pg_url: str) -> None:
    from argo.errors import OutboxMissingError

    with pytest.raises(OutboxMissingError, match="argo db upgrade"):
        open_outbox(Path(empty_pg_url))


def test_audit_verify_opens_a_postgresql_database(url: str, tmp_path: Path) -> None:
    missing = tmp_path / "none.log"
    result = CliRunner().invoke(
        argo_main, ["audit", "verify", "--db", url, "--audit-log", str(missing)]
    )
    assert result.exit_code == 1, result.output  # the database opened; the log is missing
    assert "no audit log" in result.output and "Traceback" not in result.output


def test_a_signal_and_its_outbox_row_commit_together(url: str) -> None:
    store = open_signals(Path(url))
    try:
        signals = make_signals(5)
        assert store.add_many(signals, utc_now()) == signals
        assert store.add_many(signals[:2], utc_now()) == []  # stored already: no second event
        assert store.outbox_backlog()[0] == 5
        assert [s.signal.signal_id for s in store.open_signals()] == [s.signal_id for s in signals]
    finally:
        store.close()
    rows = argo_rows(url)
    assert [r["signal_id"] for r in rows] == [s.signal_id for s in signals]
    assert all(r["txid"] == rows[0]["txid"] for r in rows)  # one transaction


def test_claims_are_disjoint_and_fenced(url: str) -> None:
    _fill(url, make_signals(10))
    first, second = _outbox(url), _outbox(url)
    try:
        a = first.claim("h:relay-0", utc_now(), 30, 6)
        b = second.claim("h:relay-1", utc_now(), 30, 6)
        assert len(a.rows) == 6 and len(b.rows) == 4
        assert not {r.id for r in a.rows} & {r.id for r in b.rows}
        assert second.claim("h:relay-1", utc_now(), 30, 6).rows == ()
        # A settle under a token that no longer holds the row changes nothing.
        stale = type(a)(a.worker, "not-the-token", a.rows, a.expires)
        assert first.settle(stale, Settlement(released=(Release(a.rows[0].id),)), utc_now()) == 0
        assert first.renew(a, utc_now(), 30) == {r.id for r in a.rows}
        assert first.backlog(utc_now()).in_flight == 10
    finally:
        first.close()
        second.close()


def test_a_lease_runs_out_on_the_server_clock(url: str) -> None:
    _fill(url, make_signals(2))
    first, second = _outbox(url), _outbox(url)
    try:
        assert len(first.claim("h:relay-0", utc_now(), 0.3, 10).rows) == 2
        assert second.claim("h:relay-1", utc_now(), 30, 10).rows == ()
        assert len(_claim_when_due(second, "h:relay-1")) == 2  # the holder never renewed
    finally:
        first.close()
        second.close()


def _insert(conn: psycopg.Connection[tuple[object, ...]], events: list[OutboxEvent]) -> None:
    for e in events:
        conn.execute(
            "INSERT INTO sync_outbox (event_id, event_type, signal_id, payload, created_at,"
            " next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s)",
            (e.event_id, e.event_type.value, e.signal_id, e.payload, e.created_at, e.created_at),
        )


def test_a_row_that_commits_late_is_never_skipped(url: str) -> None:
    """Commit-order gap: a slow transaction takes an id, a fast one commits a later id.
    Nothing past the slow transaction is claimed until it ends; then both, in order."""
    signal = make_signals(1)[0]
    _fill(url, [signal])
    outbox = _outbox(url)
    try:
        outbox.settle(
            outbox.claim("h:relay-0", utc_now(), 30, 10),
            Settlement(delivered=(argo_rows(url)[0]["id"],)),
            utc_now(),
        )
        now = utc_now()
        early = outcome_event(signal.signal_id, "win", 1.0, 1.0, now, now)
        late = outcome_event(signal.signal_id, "loss", 1.0, -1.0, now, now + timedelta(seconds=1))
        with psycopg.connect(conninfo(url)) as slow, psycopg.connect(conninfo(url)) as fast:
            _insert(slow, [early])  # takes the lower id, stays uncommitted
            _insert(fast, [late])
            fast.commit()
            assert outbox.claim("h:relay-0", utc_now(), 30, 10).rows == ()
            assert not outbox.has_due(utc_now())
            slow.commit()
        claimed = _claim_when_due(outbox, "h:relay-0")
        assert claimed == [early.event_id]  # the later outcome waits for the earlier one
    finally:
        outbox.close()


def test_an_outcome_waits_for_its_creation_held_by_another_relay(url: str) -> None:
    signal = make_signals(1)[0]
    _fill(url, [signal])
    first, second = _outbox(url), _outbox(url)
    try:
        creation = first.claim("h:relay-0", utc_now(), 30, 1)
        now = utc_now()
        with psycopg.connect(conninfo(url)) as conn:
            _insert(conn, [outcome_event(signal.signal_id, "win", 1.0, 1.0, now, now)])
        assert second.claim("h:relay-1", utc_now(), 30, 10).rows == ()
        first.settle(creation, Settlement(delivered=(creation.rows[0].id,)), utc_now())
        assert len(_claim_when_due(second, "h:relay-1")) == 1
    finally:
        first.close()
        second.close()


def test_created_event_payload_round_trips(url: str) -> None:
    signal = make_signals(1)[0]
    _fill(url, [signal])
    assert argo_rows(url)[0]["payload"] == created_event(signal, utc_now()).payload


def test_a_long_transaction_in_another_database_does_not_hold_the_horizon(
    url: str, empty_pg_url: str
) -> None:
    outbox = _outbox(url)
    try:
        with psycopg.connect(conninfo(empty_pg_url)) as elsewhere:
            elsewhere.execute("SELECT pg_current_xact_id()")  # holds an xid, stays open
            _fill(url, make_signals(3))  # committed after it: above the cluster's xmin
            assert len(outbox.claim("h:relay-0", utc_now(), 30, 10).rows) == 3
            elsewhere.rollback()
    finally:
        outbox.close()
