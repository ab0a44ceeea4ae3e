"""Fills that could not be committed when `argo run` stopped, kept in a JSON-lines file
until the next start applies them.

A paper fill exists only in the process that received it: when the store fails at the
last cycle and SIGTERM comes, dropping it would lose a trade that the risk book and Alpine
must see. `Executor.stop` writes such fills here (one line each, flushed to disk) and logs
one line; `Executor.restore` commits them at the next start (recording a fill is
idempotent) before it rebuilds the risk book, then removes the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from argo.db.postgres import database_url
from argo.signal import Action
from argo.timeutil import from_text, to_text
from argo.trades import Fill


def held_fills_path(db_path: Path, audit_log: Path) -> Path:
    """Beside the SQLite database; beside the audit log when ARGO_DB is PostgreSQL."""
    if database_url(db_path) is None:
        return db_path.with_name(f"{db_path.name}.held-fills.jsonl")
    return audit_log.with_name(f"{audit_log.name}.held-fills.jsonl")


class HeldFills:
    """The file of fills waiting to be committed."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, fills: Sequence[Fill]) -> None:
        """Append `fills`, one JSON object a line, and flush them to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            for fill in fills:
                out.write(json.dumps(_to_json(fill), separators=(",", ":")) + "\n")
            out.flush()
            os.fsync(out.fileno())

    def load(self) -> list[Fill]:
        """The fills held, oldest first (none when there is no file)."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [_from_json(json.loads(line)) for line in lines if line.strip()]

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def _to_json(fill: Fill) -> dict[str, object]:
    return {
        "signal_id": fill.signal_id,
        "order_id": fill.order_id,
        "symbol": fill.symbol,
        "action": fill.action.value,
        "fill_price": fill.fill_price,
        "executed_at": to_text(fill.executed_at),
    }


def _from_json(row: dict[str, object]) -> Fill:
    return Fill(
        signal_id=str(row["signal_id"]),
        order_id=str(row["order_id"]),
        symbol=str(row["symbol"]),
        action=Action(str(row["action"])),
        fill_price=float(str(row["fill_price"])),
        executed_at=from_text(str(row["executed_at"])),
    )
