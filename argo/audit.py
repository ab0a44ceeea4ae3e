"""The JSON-lines audit log: one line per stored signal, per recorded outcome, per
execution (`signal.executed`) and per signal the execution hook skipped (`signal.skipped`).

Each line carries `prev`, the SHA-256 of the previous line's text, so the log is a
hash chain across rotated files. Lines are appended after the database commit.
Rotation by size renames the full file to `signals.log.1` (the newest rotated file; the
older ones move up a number). Every rotated file is kept unless `backups` bounds them:
the audit trail is kept for years (docs/operations.md, "Backups and retention").
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from argo.signal import Outcome, Signal
from argo.timeutil import to_text, utc_now
from argo.trades import Fill, Skip

GENESIS = "0" * 64
DEFAULT_MAX_BYTES = 10 * 1024 * 1024


def line_hash(line: str) -> str:
    """SHA-256 of one log line's text (without its newline)."""
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


def _rotated(path: Path) -> list[tuple[int, Path]]:
    """(N, path.N) for every rotated file of the log, newest (1) first."""
    numbered = []
    for candidate in path.parent.glob(f"{path.name}.*"):
        suffix = candidate.name.removeprefix(f"{path.name}.")
        if suffix.isdigit():
            numbered.append((int(suffix), candidate))
    return sorted(numbered)


def chain_files(path: Path) -> list[Path]:
    """The log's files, oldest first: path.N … path.1, path (those that exist)."""
    rotated = [p for _, p in reversed(_rotated(path))]
    return [*rotated, path] if path.exists() else rotated


class AuditLog:
    """Appends hash-chained JSON lines to `path`, rotating at `max_bytes`."""

    def __init__(
        self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES, backups: int | None = None
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._max_bytes = max_bytes
        self._backups = backups
        _drop_torn_tail(path)
        self._prev = _last_hash(chain_files(path))
        self._file: TextIO = path.open("a", encoding="utf-8")

    def signal_stored(self, signal: Signal) -> None:
        """Record that `signal` committed."""
        self._append({"event": "signal.created", **signal.to_payload()})

    def outcome_recorded(self, outcome: Outcome) -> None:
        """Record that `outcome` committed."""
        self._append(
            {
                "event": "signal.outcome",
                "signal_id": outcome.signal_id,
                "outcome": outcome.outcome.value,
                "exit_price": outcome.exit_price,
                "profit_loss_pct": outcome.profit_loss_pct,
                "closed_at": to_text(outcome.closed_at),
            }
        )

    def execution_recorded(self, fill: Fill) -> None:
        """Record that `fill` committed (order id with its `signal.executed` event)."""
        self._append(
            {
                "event": "signal.executed",
                "signal_id": fill.signal_id,
                "order_id": fill.order_id,
                "fill_price": fill.fill_price,
                "executed_at": to_text(fill.executed_at),
            }
        )

    def execution_skipped(self, skip: Skip) -> None:
        """Record that the execution hook passed over a stored signal, and why."""
        self._append(
            {"event": "signal.skipped", "signal_id": skip.signal_id, "reason": skip.reason.value}
        )

    def _append(self, record: dict[str, Any]) -> None:
        record = {"logged_at": to_text(utc_now()), **record, "prev": self._prev}
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=True)
        if self._file.tell() > 0 and self._file.tell() + len(line) + 1 > self._max_bytes:
            self._rotate()
        self._file.write(line + "\n")  # one write: a crash leaves at most a torn last line
        self._file.flush()
        self._prev = line_hash(line)

    def _rotate(self) -> None:
        self._file.close()
        for n, source in reversed(_rotated(self._path)):  # the oldest first: no overwrite
            if self._backups is not None and n >= self._backups:
                source.unlink()
            else:
                source.rename(self._path.with_name(f"{self._path.name}.{n + 1}"))
        self._path.rename(self._path.with_name(f"{self._path.name}.1"))
        self._file = self._path.open("a", encoding="utf-8")

    def close(self) -> None:
        self._file.close()


def read_lines(path: Path) -> Iterator[tuple[int, str, bool]]:
    """(line number, text, complete) for each line of `path`."""
    with path.open("r", encoding="utf-8", newline="") as handle:
        for number, raw in enumerate(handle, 1):
            yield number, raw.rstrip("\n"), raw.endswith("\n")


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left half-written by a crash, so the chain goes on from a whole line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        data = handle.read()
        handle.truncate(data.rfind(b"\n") + 1)


def _last_hash(files: list[Path]) -> str:
    for path in reversed(files):
        last = None
        for _, text, complete in read_lines(path):
            if complete and text:
                last = text
        if last is not None:
            return line_hash(last)
    return GENESIS
