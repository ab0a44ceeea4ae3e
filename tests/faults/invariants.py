"""The fault matrix's shared invariant checker (issue 13, Jepsen style).

A = events committed in Argo's SQLite, B = rows in Alpine's PostgreSQL. After every
scenario `check` asserts the invariants that apply:

- I1 every signal row has exactly one creation event (at least one after a replay) and no
  event lacks its signal;
- I2 lost = A - B is empty (or exactly the rows the scenario dead-letters on purpose);
- I3 unexpected = B - A is empty;
- I4 duplicate rows in Alpine = 0 (duplicate POSTs absorbed are counted, not failures);
- I5 sha256 equal on both sides;
- I6 no outcome delivered before its signal, and Alpine's outcome is Argo's;

and that the real `relay verify` agrees with this set comparison. I7 (what the relay saw
acknowledged survives a PostgreSQL crash) is `assert_acknowledged_survive`.

Each check prints one result line and, when FAULTS_REPORT names a file, appends a JSON
row to it (tests/faults/report.py turns those into the table).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from argo.timeutil import from_text
from tests.kit.alpine import Alpine
from tests.kit.pgdb import conninfo
from tests.support import AlpineServer, cli

FULL = os.environ.get("FAULTS_SIZE", "fast").strip().lower() == "full"


def size(fast: int, full: int) -> int:
    """`full` under FAULTS_SIZE=full (`make faults`), else `fast` (`make test`)."""
    return full if FULL else fast


def seconds(fast: float, full: float) -> float:
    return full if FULL else fast


@dataclass
class Row:
    """One line of the fault table."""

    scenario: str
    n: int
    faults: int
    lost: int
    unexpected: int
    duplicate_rows: int
    duplicates_absorbed: int
    max_lag_s: float
    drain_s: float
    result: str
    size: str = "full" if FULL else "fast"
    notes: str = ""
    failures: list[str] = field(default_factory=list)


def _argo(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        signals = {r["signal_id"]: dict(r) for r in conn.execute("SELECT * FROM signals")}
        events = [dict(r) for r in conn.execute("SELECT * FROM sync_outbox ORDER BY id")]
    return {"signals": signals, "events": events}


def alpine_signals(pg_url: str) -> list[dict[str, Any]]:
    """Every row of Alpine's `signals` table."""
    with psycopg.connect(conninfo(pg_url)) as conn:
        cursor = conn.execute("SELECT * FROM signals ORDER BY id")
        names = [d.name for d in cursor.description or ()]
        return [dict(zip(names, r, strict=True)) for r in cursor]


def _lag_seconds(event: Mapping[str, Any]) -> float:
    return (from_text(event["delivered_at"]) - from_text(event["created_at"])).total_seconds()


class Absorbed:
    """Duplicate POSTs Alpine absorbed (its `result="duplicate"` counter), summed over the
    Alpine processes (or served apps) a scenario ran: scrape each one while it lives."""

    _PATTERN = re.compile(r'^alpine_signals_received_total\{result="duplicate"\} (\S+)$', re.M)

    def __init__(self) -> None:
        self._by_process: dict[int, int] = {}

    def scrape(self, server: Alpine) -> int:
        try:
            text = httpx.get(f"{server.url}/metrics", timeout=5).text
        except httpx.HTTPError:
            return self.total
        match = self._PATTERN.search(text)
        value = int(float(match.group(1))) if match else 0
        key = server.process.pid if isinstance(server, AlpineServer) else id(server)
        self._by_process[key] = max(self._by_process.get(key, 0), value)
        return self.total

    @property
    def total(self) -> int:
        return sum(self._by_process.values())


def verify_report(env: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    """`relay verify` over every signal (an open end: a scenario may have stepped the
    clock ahead of this process's): its exit code and report."""
    window = ("--since", "3650d", "--until", "2099-12-31T00:00:00Z")
    result = cli("relay", "verify", *window, "--json", env=env)
    assert result.returncode in (0, 1) and result.stdout.strip(), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


def _pairing(argo: dict[str, Any], allow_replays: bool) -> list[str]:
    """I1: one creation event per signal (at least one after a replay), none orphaned."""
    signals = argo["signals"]
    created = Counter(e["signal_id"] for e in argo["events"] if e["event_type"] == "signal.created")
    problems = []
    unpaired = [s for s in signals if created[s] < 1 or (created[s] > 1 and not allow_replays)]
    orphans = [e["event_id"] for e in argo["events"] if e["signal_id"] not in signals]
    if unpaired:
        problems.append(f"I1: {len(unpaired)} signals without exactly one creation event")
    if orphans:
        problems.append(f"I1: {len(orphans)} events without their signal")
    return problems


def _outcomes(argo: dict[str, Any], alpine: dict[str, dict[str, Any]]) -> list[str]:
    """I6: an outcome is delivered after its signal's creation, and Alpine holds it."""
    first_created: dict[str, str] = {}
    for event in argo["events"]:
        if event["event_type"] == "signal.created" and event["delivered_at"]:
            known = first_created.get(event["signal_id"])
            if known is None or event["delivered_at"] < known:
                first_created[event["signal_id"]] = event["delivered_at"]
    early, wrong = [], []
    for event in argo["events"]:
        if event["event_type"] != "signal.outcome" or not event["delivered_at"]:
            continue
        signal_id = event["signal_id"]
        created = first_created.get(signal_id)
        if created is None or created > event["delivered_at"]:
            early.append(signal_id)
        stored = alpine.get(signal_id)
        if stored is None or stored.get("outcome") != argo["signals"][signal_id]["outcome"]:
            wrong.append(signal_id)
    problems = []
    if early:
        problems.append(f"I6: {len(early)} outcomes delivered before their signal")
    if wrong:
        problems.append(f"I6: {len(wrong)} delivered outcomes not as Argo has them in Alpine")
    return problems


def _verify_agrees(
    env: Mapping[str, str], argo_hashes: dict[str, str], alpine_hashes: dict[str, str]
) -> list[str]:
    """`relay verify` counts what this comparison counts."""
    code, report = verify_report(env)
    absent = set(argo_hashes) - set(alpine_hashes)
    both = set(argo_hashes) & set(alpine_hashes)
    matched = sum(1 for s in both if argo_hashes[s] == alpine_hashes[s])
    expected = {
        "matched": matched,
        "mismatched": len(both) - matched,
        "missing+pending": len(absent),
        "unknown": len(set(alpine_hashes) - set(argo_hashes)),
    }
    said = {
        "matched": report["matched"],
        "mismatched": report["mismatched"],
        "missing+pending": report["missing"] + report["pending"],
        "unknown": report["unknown"],
    }
    problems = [] if said == expected else [f"verify says {said}, the harness {expected}"]
    ok = report["missing"] == 0 and report["mismatched"] == 0
    if (code == 0) != ok:
        problems.append(f"verify exit {code} but its report says ok={ok}")
    return problems


def check(
    scenario: str,
    *,
    db: Path,
    pg_url: str,
    env: Mapping[str, str],
    n: int,
    faults: int,
    absorbed: int = 0,
    drain_s: float = 0.0,
    expect_dead: Collection[str] = (),
    never_in_alpine: Collection[str] = (),
    allow_replays: bool = False,
    notes: str = "",
    extra_failures: Collection[str] = (),
) -> Row:
    """Check I1-I6 and `relay verify`; print and record the row; raise if any failed."""
    argo = _argo(db)
    stored = alpine_signals(pg_url)
    alpine = {r["signal_id"]: r for r in stored}
    argo_hashes = {s: r["sha256"] for s, r in argo["signals"].items()}
    alpine_hashes = {s: r["verification_hash"] for s, r in alpine.items()}

    lost = set(argo_hashes) - set(alpine_hashes)
    unexpected = set(alpine_hashes) - set(argo_hashes)
    duplicate_rows = len(stored) - len(alpine)
    mismatched = [s for s in set(argo_hashes) & set(alpine) if argo_hashes[s] != alpine_hashes[s]]
    failures = [*extra_failures, *_pairing(argo, allow_replays)]
    if lost != set(expect_dead):
        failures.append(f"I2: lost {sorted(lost)[:5]} ({len(lost)}), expected {len(expect_dead)}")
    dead = {e["signal_id"] for e in argo["events"] if e["dead_at"]}
    if dead != set(expect_dead):
        failures.append(f"{len(dead)} signals dead-lettered, expected {len(expect_dead)}")
    if unexpected:
        failures.append(f"I3: {len(unexpected)} rows in Alpine Argo never committed")
    if duplicate_rows:
        failures.append(f"I4: {duplicate_rows} duplicate rows")
    if mismatched:
        failures.append(f"I5: {len(mismatched)} hash mismatches")
    leaked = set(never_in_alpine) & set(alpine)
    if leaked:
        failures.append(f"{len(leaked)} aborted signals reached Alpine")
    failures.extend(_outcomes(argo, alpine))
    failures.extend(_verify_agrees(env, argo_hashes, alpine_hashes))
    lags = [_lag_seconds(e) for e in argo["events"] if e["delivered_at"]]
    row = Row(
        scenario=scenario,
        n=n,
        faults=faults,
        lost=len(lost - set(expect_dead)),
        unexpected=len(unexpected),
        duplicate_rows=duplicate_rows,
        duplicates_absorbed=absorbed,
        max_lag_s=round(max(lags, default=0.0), 2),
        drain_s=round(drain_s, 2),
        result="FAIL" if failures else "PASS",
        notes=notes,
        failures=list(failures),
    )
    record(row)
    assert not failures, f"{scenario}: " + "; ".join(failures)
    return row


def record(row: Row) -> None:
    """Print the result line; append the row to FAULTS_REPORT when it is set."""
    print(
        f"\nFAULT {row.scenario} [{row.size}]: N={row.n} faults={row.faults} lost={row.lost}"
        f" unexpected={row.unexpected} duplicate_rows={row.duplicate_rows}"
        f" absorbed={row.duplicates_absorbed} max_lag={row.max_lag_s}s drain={row.drain_s}s"
        f" {row.result}{' (' + row.notes + ')' if row.notes else ''}"
    )
    target = os.environ.get("FAULTS_REPORT", "").strip()
    if target:
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(row)) + "\n")


def delivered_signal_ids(db: Path) -> set[str]:
    """Signals whose creation the relay has recorded as acknowledged by Alpine."""
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT signal_id FROM sync_outbox"
            " WHERE event_type = 'signal.created' AND delivered_at IS NOT NULL"
        )
        return {r[0] for r in rows}


def assert_acknowledged_survive(acknowledged: set[str], pg_url: str) -> None:
    """I7: every signal the relay saw a 2xx for is still in Alpine (after a crash)."""
    present = {r["signal_id"] for r in alpine_signals(pg_url)}
    gone = acknowledged - present
    assert not gone, f"I7: {len(gone)} acknowledged signals gone after the crash"
