"""The audit log: hash chain across rotated files, verification naming the first broken line."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from argo.audit import GENESIS, AuditLog, chain_files, line_hash
from argo.audit_verify import verify
from argo.cli.main import main
from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.kit.factories import make_signals


def fill(
    tmp_path: Path, count: int, max_bytes: int = 4000, backups: int | None = 3
) -> tuple[Path, Path]:
    db, log = tmp_path / "signals.db", tmp_path / "signals.log"
    store = open_signals(db)
    audit = AuditLog(log, max_bytes=max_bytes, backups=backups)
    for signal in make_signals(count):
        store.add(signal, utc_now())
        audit.signal_stored(signal)
    audit.close()
    store.close()
    return db, log


def test_chain_links_every_line_and_rotation_keeps_a_bounded_number_of_files(
    tmp_path: Path,
) -> None:
    db, log = fill(tmp_path, 40)
    files = chain_files(log)
    assert len(files) == 4  # the live file and 3 backups
    lines = [line for f in files for line in f.read_text().splitlines()]
    for earlier, later in itertools.pairwise(lines):
        assert json.loads(later)["prev"] == line_hash(earlier)
    with sqlite3.connect(db) as conn:
        report = verify(log, conn)
    assert report.ok, report.first_problem
    assert report.lines == len(lines) and any("no audit line" in w for w in report.warnings)


def test_rotation_keeps_every_file_by_default_and_verifies_past_ten_files(
    tmp_path: Path,
) -> None:
    db, log = fill(tmp_path, 60, max_bytes=2000, backups=None)
    files = chain_files(log)
    assert len(files) > 12 and files[-1] == log and files[0].name == f"{log.name}.{len(files) - 1}"
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert len(lines) == 60 and json.loads(lines[0])["prev"] == GENESIS
    with sqlite3.connect(db) as conn:
        report = verify(log, conn)
    assert report.ok and report.lines == 60, report.first_problem


def test_reopening_continues_the_chain(tmp_path: Path) -> None:
    db, log = fill(tmp_path, 5, max_bytes=10**6)
    first = log.read_text().splitlines()
    assert json.loads(first[0])["prev"] == GENESIS
    store = open_signals(db)
    audit = AuditLog(log)
    [extra] = make_signals(6)[5:]
    store.add(extra, utc_now())
    audit.signal_stored(extra)
    audit.close()
    store.close()
    assert json.loads(log.read_text().splitlines()[5])["prev"] == line_hash(first[4])


def test_an_edited_line_is_named(tmp_path: Path) -> None:
    db, log = fill(tmp_path, 6, max_bytes=10**6)
    lines = log.read_text().splitlines()
    record = json.loads(lines[2])
    record["confidence"] = 1.0
    lines[2] = json.dumps(record, separators=(",", ":"))
    log.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["audit", "verify", "--audit-log", str(log), "--db", str(db)])
    assert result.exit_code == 1
    assert "BROKEN at signals.log:4" in result.output  # the line after the edit no longer links


def test_a_signal_missing_from_the_database_is_named(tmp_path: Path) -> None:
    db, log = fill(tmp_path, 4, max_bytes=10**6)
    with sqlite3.connect(db) as conn:
        victim = json.loads(log.read_text().splitlines()[1])["signal_id"]
        conn.execute("DELETE FROM sync_outbox WHERE signal_id = ?", (victim,))
        conn.execute("DELETE FROM signals WHERE signal_id = ?", (victim,))
        report = verify(log, conn)
    assert report.first_problem == f"signals.log:2: signal {victim} is not in the database"


def test_a_torn_last_line_is_reported_then_repaired(tmp_path: Path) -> None:
    db, log = fill(tmp_path, 3, max_bytes=10**6)
    with log.open("a") as handle:
        handle.write('{"event":"signal.created","signal_id":"trunc')
    result = CliRunner().invoke(main, ["audit", "verify", "--audit-log", str(log), "--db", str(db)])
    assert result.exit_code == 0 and "incomplete last line" in result.output
    AuditLog(log).close()  # reopening cuts the torn tail
    assert log.read_text().endswith("\n") and len(log.read_text().splitlines()) == 3


def test_backup_copy_passes_integrity_check(tmp_path: Path) -> None:
    db, _ = fill(tmp_path, 5, max_bytes=10**6)
    target = tmp_path / "copy" / "signals.db"
    result = CliRunner().invoke(main, ["backup", str(target), "--db", str(db)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM signals").fetchone()[0] == 5
    assert CliRunner().invoke(main, ["backup", str(target), "--db", str(db)]).exit_code == 2
