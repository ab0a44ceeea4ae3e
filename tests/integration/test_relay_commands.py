"""`relay status`, `replay`, `dead list/retry` and `prune` on a real SQLite file (CliRunner)."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner

from argo.outbox import DeadLetter, Release, Settlement, WorkerState, open_outbox
from argo.timeutil import to_text, utc_now
from relay.cli import main
from tests.kit.factories import add_outcome_event, filled_store
from tests.support import cli


def run(db: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--db", str(db)])
    return result.exit_code, result.output


def settle_some(db: Path, delivered: int, dead: int) -> list[str]:
    """Deliver the first `delivered` rows and dead-letter the next `dead`; their event ids."""
    store = open_outbox(db)
    try:
        now = utc_now()
        claim = store.claim("tester", now, 60, 1000)
        rows = claim.rows
        store.settle(
            claim,
            Settlement(
                delivered=tuple(r.id for r in rows[:delivered]),
                dead=tuple(
                    DeadLetter(r.id, 0, "HTTP 409: conflict")
                    for r in rows[delivered : delivered + dead]
                ),
                released=tuple(Release(r.id) for r in rows[delivered + dead :]),
            ),
            now,
        )
        return [r.event_id for r in rows[delivered : delivered + dead]]
    finally:
        store.close()


def test_status_reports_counts_and_a_paused_relay(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    filled_store(db, 10)[0].close()
    settle_some(db, delivered=6, dead=1)
    store = open_outbox(db)
    store.admin().record_worker("w-paused", WorkerState.PAUSED, utc_now(), "HTTP 401: bad key")
    store.close()
    code, output = run(db, "status", "--json")
    assert code == 0
    report = json.loads(output)
    assert report["pending"] == 3 and report["dead"] == 1 and report["delivered"] == 6
    assert report["paused"] is True and "401" in report["paused_reason"]
    assert report["relays_running"] == 1
    assert "409" in report["last_error"]  # the dead letter's reason
    code, human = run(db, "status")
    assert code == 0 and human.startswith("● paused: HTTP 401") and "next" in human


def test_dead_list_and_retry(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    filled_store(db, 5)[0].close()
    dead_ids = settle_some(db, delivered=2, dead=2)
    code, output = run(db, "dead", "list", "--json")
    assert code == 0
    listed = [json.loads(line) for line in output.splitlines()]
    assert [d["event_id"] for d in listed] == dead_ids and "409" in listed[0]["last_error"]

    code, output = run(db, "dead", "retry", dead_ids[0])
    assert code == 0 and "requeued 1" in output
    code, output = run(db, "dead", "retry", "evt_unknown")
    assert code == 1
    code, output = run(db, "dead", "retry")
    assert code == 2
    code, output = run(db, "dead", "retry", "--all")
    assert code == 0 and "requeued 1" in output
    assert json.loads(run(db, "status", "--json")[1])["dead"] == 0


def test_prune_deletes_only_old_delivered_rows(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    filled_store(db, 8)[0].close()
    settle_some(db, delivered=5, dead=1)
    store = open_outbox(db)
    old = to_text(utc_now() - timedelta(days=10))
    store._conn.execute(
        "UPDATE sync_outbox SET delivered_at = ? WHERE id IN (SELECT id FROM sync_outbox"
        " WHERE delivered_at IS NOT NULL LIMIT 3)",
        (old,),
    )
    store.close()
    code, output = run(db, "prune", "--older-than", "7d")
    assert code == 0 and "deleted 3" in output
    report = json.loads(run(db, "status", "--json")[1])
    assert (report["delivered"], report["dead"], report["pending"]) == (2, 1, 2)
    assert run(db, "prune", "--older-than", "soon")[0] == 2


def test_replay_dry_run_then_enqueue(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    store, signals = filled_store(db, 12)
    store.close()
    apple = sum(s.symbol == "AAPL" for s in signals)
    assert 0 < apple < 12
    code, output = run(db, "replay", "--since", "1h", "--dry-run")
    assert code == 0 and "would enqueue events for 12 signals" in output
    code, output = run(db, "replay", "--since", "1h", "--symbol", "aapl")
    assert code == 0 and f"enqueued {apple} events (0 outcomes)" in output
    assert json.loads(run(db, "status", "--json")[1])["pending"] == 12 + apple
    assert run(db, "replay", "--since", "2025-01-01T00:00:00")[0] == 2  # naive time refused


def test_a_window_that_ends_before_it_starts_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    filled_store(db, 2)[0].close()
    for command in ("replay", "verify"):
        code, output = run(db, command, "--since", "1h", "--until", "2h")
        assert code == 2, output
        assert "before it starts" in output
    code, output = run(db, "replay", "--since", "2h", "--until", "1h", "--dry-run")
    assert code == 0 and "would enqueue events for 0 signals" in output


def test_status_counts_events_parked_behind_a_dead_creation(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    store, signals = filled_store(db, 2)
    add_outcome_event(store, signals[0].signal_id)
    store.close()
    settle_some(db, delivered=0, dead=1)
    report = json.loads(run(db, "status", "--json")[1])
    assert (report["dead"], report["parked"], report["pending"]) == (1, 1, 2)


def test_a_missing_database_is_a_usage_error_naming_argo_db(tmp_path: Path) -> None:
    typo = tmp_path / "sigansl.db"
    for args in (("run", "--once"), ("status",), ("dead", "list"), ("replay", "--since", "1h")):
        result = cli("relay", *args, env={"ARGO_DB": str(typo), "ARGO_API_KEY": "k" * 20})
        assert result.returncode == 2, (args, result.stderr)
        assert "ARGO_DB" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not typo.exists()  # never created


def test_an_empty_file_is_not_an_outbox(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    result = cli("relay", "status", env={"ARGO_DB": str(empty)})
    assert result.returncode == 2 and "no Argo outbox" in result.stderr


def test_a_bad_setting_is_exit_2_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    filled_store(db, 1)[0].close()
    env = {"ARGO_DB": str(db), "ARGO_API_KEY": "k" * 20, "RELAY_BATCH_SIZE": "lots"}
    result = cli("relay", "run", "--once", env=env)
    assert result.returncode == 2 and "RELAY_BATCH_SIZE" in result.stderr
    result = cli(
        "relay", "run", "--once", "--batch-size", "900", env=env | {"RELAY_BATCH_SIZE": "5"}
    )
    assert result.returncode == 2 and "--batch-size" in result.stderr


def _worker(db: Path, state: WorkerState, detail: str | None = None, age_s: float = 0) -> None:
    store = open_outbox(db)
    store.admin().record_worker("host:relay-0", state, utc_now() - timedelta(seconds=age_s), detail)
    store.close()


def test_status_verdicts_read_at_a_glance(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    filled_store(db, 3)[0].close()
    assert run(db, "status")[1].startswith("● no relay running")
    _worker(db, WorkerState.RUNNING)
    assert run(db, "status")[1].startswith("● delivering")
    _worker(db, WorkerState.RUNNING, "outage: ConnectError: refused")
    assert run(db, "status")[1].startswith("● Alpine unavailable, backing off")
    _worker(db, WorkerState.PAUSED, "paused: HTTP 401: bad key (check ARGO_API_KEY ...)")
    output = run(db, "status")[1]
    assert output.startswith("● paused: HTTP 401") and "fix the setting" in output
    _worker(db, WorkerState.RUNNING)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sync_outbox SET created_at = '2020-01-01T00:00:00.000000Z'")
    assert run(db, "status")[1].startswith("● behind: oldest pending")
    settle_some(db, delivered=3, dead=0)
    output = run(db, "status")[1]
    assert output.startswith("● idle: everything delivered") and "freshness" in output
    assert "\x1b[" not in output  # no colour when not on a terminal
    assert json.loads(run(db, "status", "--json")[1])["verdict"].startswith("idle")


def test_dead_letters_are_grouped_retried_and_discarded_by_cause(tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    store, signals = filled_store(db, 5)
    add_outcome_event(store, signals[0].signal_id)
    store.close()
    settle_some(db, delivered=0, dead=5)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id FROM sync_outbox WHERE dead_at IS NOT NULL ORDER BY id")
        ids = [r[0] for r in rows]
        for n, row_id in enumerate(ids):
            error = (
                f"HTTP 422: entry_price: Input should be greater than 0, got -{n}.5"
                if n < 3
                else f"HTTP 409: differing fields: reasoning (signal {n:016x})"
            )
            conn.execute("UPDATE sync_outbox SET last_error = ? WHERE id = ?", (error, row_id))
    code, grouped = run(db, "dead", "list")
    assert code == 0
    lines = [line for line in grouped.splitlines() if line.startswith("[")]
    assert len(lines) == 2 and "     3  first" in lines[0] and "     2  first" in lines[1]
    invalid = lines[0][1:7]
    listed = [json.loads(line) for line in run(db, "dead", "list", "--json")[1].splitlines()]
    assert {d["cause_id"] for d in listed} == {invalid, lines[1][1:7]}

    code, output = run(db, "dead", "retry", "--cause", invalid)
    assert code == 0 and "requeued 3" in output
    conflict = lines[1][1:7]
    report = json.loads(run(db, "status", "--json")[1])
    assert (report["dead"], report["parked"]) == (2, 0)  # the first signal's creation is due
    settle_some(db, delivered=0, dead=3)  # the three die again (and the first parks its outcome)
    report = json.loads(run(db, "status", "--json")[1])
    assert (report["dead"], report["parked"]) == (5, 1)
    code, output = run(db, "dead", "discard", "--cause", conflict)
    assert code == 0 and "discarded 2" in output
    code, output = run(db, "dead", "discard", *[d["event_id"] for d in listed][:1])
    assert code == 0 and "discarded 1" in output
    report = json.loads(run(db, "status", "--json")[1])
    assert (report["dead"], report["parked"]) == (2, 0)  # its parked outcome went with it
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT count(*) FROM sync_outbox WHERE discarded_at IS NOT NULL")
        assert kept.fetchone()[0] == 4  # 3 creations and the parked outcome, all kept
    assert run(db, "dead", "retry", "--cause", "nope")[0] == 2
    assert run(db, "dead", "retry", "--all", "--cause", invalid)[0] == 2
