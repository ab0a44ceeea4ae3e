"""F2 of the fault matrix: the relay SIGKILLs itself at each deterministic crash window
(argo/process/crashpoints.py), run after run, and nothing is lost or stored twice.

One row per window (batch size 1), so every redelivery Alpine absorbs is counted:
after the request reached Alpine (`after_send`, `before_settle`, `in_settle`) each run
costs exactly one duplicate POST, absorbed as "duplicate"; before it (`after_claim`)
none. A restarted relay takes its dead predecessor's slot and leases back at once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest

from tests.pipeline import assert_exactly_once, generate, outbox_counts, relay_env
from tests.support import AlpineServer, cli

RUNS = int(os.environ.get("FAULT_RUNS", "20"))
DUPLICATES_PER_RUN = {"after_claim": 0, "after_send": 1, "before_settle": 1, "in_settle": 1}


def _duplicates(alpine: AlpineServer) -> int:
    text = httpx.get(f"{alpine.url}/metrics", timeout=5).text
    match = re.search(r'^alpine_signals_received_total\{result="duplicate"\} (\S+)$', text, re.M)
    return int(float(match.group(1))) if match else 0


@pytest.mark.parametrize("point", sorted(DUPLICATES_PER_RUN))
def test_a_crash_at_each_window_loses_nothing(
    alpine: AlpineServer, pg_url: str, tmp_path: Path, point: str
) -> None:
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path, RELAY_BATCH_SIZE="1", RELAY_LEASE_SECONDS="600")
    generate(env, RUNS + 5)
    crashing = dict(env, RELAY_TEST_CRASH_AT=f"{point}:1")
    before = _duplicates(alpine)
    for run in range(RUNS):
        result = cli("relay", "run", "--once", env=crashing)
        assert result.returncode == -9, (run, result.returncode, result.stderr[-500:])
    crashed_duplicates = _duplicates(alpine) - before
    drained = cli("relay", "run", "--once", env=env)
    assert drained.returncode == 0, drained.stderr
    assert outbox_counts(db) == (RUNS + 5, RUNS + 5)
    assert assert_exactly_once(pg_url, db) == RUNS + 5
    absorbed = _duplicates(alpine) - before
    expected = DUPLICATES_PER_RUN[point] * RUNS
    assert absorbed == expected, (point, crashed_duplicates, absorbed)
    print(
        f"\nFAULT F2 {point}: {RUNS} SIGKILLs, lost 0, duplicate rows 0,"
        f" duplicate POSTs absorbed {absorbed} ({absorbed / RUNS:.0f} per run)"
    )
