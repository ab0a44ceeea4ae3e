"""`python -m tests.faults.report ROWS.jsonl OUT.json`: the fault matrix's table.

Reads the rows tests/faults/invariants.py `record` appended (one JSON object a line),
prints one table (scenario, N, faults injected, lost, unexpected, duplicate rows,
duplicate POSTs absorbed, max lag, drain time, result) and writes the rows, with the
machine and the date, as one JSON document."""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_COLUMNS = (
    ("scenario", "scenario"),
    ("n", "N"),
    ("faults", "faults"),
    ("lost", "lost"),
    ("unexpected", "unexp"),
    ("duplicate_rows", "dup rows"),
    ("duplicates_absorbed", "absorbed"),
    ("max_lag_s", "max lag s"),
    ("drain_s", "drain s"),
    ("result", "result"),
)


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, notes below it."""
    lines = [
        "| " + " | ".join(title for _, title in _COLUMNS) + " |",
        "|" + "|".join("---" for _ in _COLUMNS) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(key, "")) for key, _ in _COLUMNS) + " |")
    notes = [f"- {row['scenario']}: {row['notes']}" for row in rows if row.get("notes")]
    return "\n".join(lines + (["", *notes] if notes else []))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source, target = Path(argv[0]), Path(argv[1])
    if not source.is_file():
        print(f"no fault rows in {source} (did any scenario run?)", file=sys.stderr)
        return 1
    rows = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    print("\n" + table(rows))
    failed = [r["scenario"] for r in rows if r["result"] != "PASS"]
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}",
        "command": "make faults",
        "rows": rows,
        "failed": failed,
    }
    target.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\n{len(rows)} scenarios, {len(failed)} failed; written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
