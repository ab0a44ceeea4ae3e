"""The JSON-lines audit log: one line per stored signal, appended after commit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from argo.signal import Signal
from argo.timeutil import to_text, utc_now


class AuditLog:
    """Appends one JSON object per line to `path` (created with its directory)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = path.open("a", encoding="utf-8")

    def signal_stored(self, signal: Signal) -> None:
        """Record that `signal` committed."""
        line = {
            "event": "signal.created",
            "logged_at": to_text(utc_now()),
            **signal.to_payload(),
        }
        self._file.write(json.dumps(line, separators=(",", ":"), ensure_ascii=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
