"""`argo audit verify`: check the audit log's hash chain and cross-check the database
(a SQLite file or PostgreSQL: the store answers `recorded` and `signal_ids`)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from argo.audit import chain_files, line_hash, read_lines
from argo.signals.port import SignalStore
from argo.signals.store import SqliteSignalStore


@dataclass
class AuditReport:
    lines: int = 0
    signals: int = 0
    outcomes: int = 0
    executions: int = 0
    files: list[str] = field(default_factory=list)
    first_problem: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_problem is None


def verify(path: Path, conn: sqlite3.Connection | None) -> AuditReport:
    """`verify_store` on an open SQLite connection (None: the chain only)."""
    return verify_store(path, SqliteSignalStore(conn) if conn is not None else None)


def verify_store(path: Path, store: SignalStore | None) -> AuditReport:
    """Walk every line oldest first; stop at the first broken link or mismatch with the
    database of `store` (None: check the chain only)."""
    report = AuditReport()
    files = chain_files(path)
    if not files:
        report.first_problem = f"{path}: no audit log"
        return report
    expected: str | None = None  # the oldest kept line starts the chain
    logged: set[str] = set()
    for file in files:
        report.files.append(file.name)
        for number, text, complete in read_lines(file):
            where = f"{file.name}:{number}"
            if not complete:
                report.warnings.append(f"{where}: incomplete last line ignored (torn write)")
                break
            problem = _check_line(text, expected, store, logged)
            if problem:
                report.first_problem = f"{where}: {problem}"
                return report
            record = json.loads(text)
            report.lines += 1
            report.signals += record["event"] == "signal.created"
            report.outcomes += record["event"] == "signal.outcome"
            report.executions += record["event"] == "signal.executed"
            expected = line_hash(text)
    if store is not None:
        _missing_lines(store, logged, report)
    return report


def _check_line(
    text: str, expected: str | None, store: SignalStore | None, logged: set[str]
) -> str | None:
    try:
        record = json.loads(text)
    except ValueError:
        return "not a JSON object"
    if not isinstance(record, dict) or "prev" not in record or "event" not in record:
        return "not an audit record (no prev or event)"
    if expected is not None and record["prev"] != expected:
        return "prev does not match the SHA-256 of the line before it (edited or removed line)"
    if store is None:
        return None
    if record["event"] == "signal.created":
        logged.add(record.get("signal_id", ""))
        recorded = store.recorded(str(record.get("signal_id")))
        if recorded is None:
            return f"signal {record.get('signal_id')} is not in the database"
        if recorded.sha256 != record.get("sha256"):
            return f"signal {record.get('signal_id')} has another sha256 in the database"
    return _check_change(record, store)


# A lifecycle line: what it is called in a message, and the fields it must match.
_CHANGES = {
    "signal.outcome": ("outcome", ("outcome", "exit_price")),
    "signal.executed": ("execution", ("order_id", "fill_price")),
}


def _check_change(record: dict[str, object], store: SignalStore) -> str | None:
    """An outcome or execution line against the columns it recorded."""
    change = _CHANGES.get(str(record["event"]))
    if change is None:
        return None
    name, columns = change
    recorded = store.recorded(str(record.get("signal_id")))
    stored = tuple(getattr(recorded, column) for column in columns) if recorded else None
    if stored != tuple(record.get(column) for column in columns):
        return f"{name} of {record.get('signal_id')} differs from the database"
    return None


def _missing_lines(store: SignalStore, logged: set[str], report: AuditReport) -> None:
    missing = len(store.signal_ids() - logged)
    if missing:
        report.warnings.append(
            f"{missing} stored signal(s) have no audit line in the kept files"
            " (older than the oldest kept file, or a crash between commit and log)"
        )
