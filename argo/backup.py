"""`argo backup`: a consistent copy of the live database (SQLite online backup API)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def online_backup(source: Path, target: Path, pages_per_step: int = 1024) -> tuple[int, str]:
    """Copy `source` to `target` while writers go on; (pages copied, integrity_check verdict)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    copied = 0

    def progress(status: int, remaining: int, total: int) -> None:
        nonlocal copied
        copied = total - remaining

    with sqlite3.connect(source, timeout=30) as src, sqlite3.connect(target) as dst:
        src.backup(dst, pages=pages_per_step, progress=progress)
        verdict = str(dst.execute("PRAGMA integrity_check").fetchone()[0])
    src.close()
    dst.close()
    return copied, verdict
