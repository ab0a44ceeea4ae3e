"""F2 of the fault matrix: the relay SIGKILLs itself at each deterministic crash window
(argo/process/crashpoints.py), run after run, and nothing is lost or stored twice.

One row per window (batch size 1), so every redelivery Alpine absorbs is counted:
after the request reached Alpine (`after_send`, `before_settle`, `in_settle`) each run
costs exactly one duplicate POST, absorbed as "duplicate"; before it (`after_claim`)
none. A restarted relay takes its dead predecessor's slot and leases back at once.
One window out at a time keeps that count exact (with two, the window claimed ahead may
also have reached Alpine when the first one's crash point fires); F1 runs the default.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.invariants import Absorbed, check, size
from tests.kit.alpine import Alpine
from tests.kit.pipeline import generate, outbox_counts, relay_env
from tests.support import cli

RUNS = size(3, 100)  # make test: every window, three runs each
DUPLICATES_PER_RUN = {"after_claim": 0, "after_send": 1, "before_settle": 1, "in_settle": 1}


@pytest.mark.parametrize("point", sorted(DUPLICATES_PER_RUN))
def test_a_crash_at_each_window_loses_nothing(
    alpine: Alpine, pg_url: str, tmp_path: Path, point: str
) -> None:
    db = tmp_path / "signals.db"
    env = relay_env(
        alpine,
        tmp_path,
        RELAY_BATCH_SIZE="1",
        RELAY_LEASE_SECONDS="600",
        RELAY_WINDOWS_IN_FLIGHT="1",
    )
    generate(env, RUNS + 5)
    crashing = dict(env, RELAY_TEST_CRASH_AT=f"{point}:1")
    absorbed = Absorbed()
    for run in range(RUNS):
        result = cli("relay", "run", "--once", env=crashing)
        assert result.returncode == -9, (run, result.returncode, result.stderr[-500:])
    healed = time.monotonic()
    drained = cli("relay", "run", "--once", env=env)
    assert drained.returncode == 0, drained.stderr
    drain_s = time.monotonic() - healed
    assert outbox_counts(db) == (RUNS + 5, RUNS + 5)
    total = absorbed.scrape(alpine)
    expected = DUPLICATES_PER_RUN[point] * RUNS
    check(
        f"F2 relay self-SIGKILL {point}",
        db=db,
        pg_url=pg_url,
        env=env,
        n=RUNS + 5,
        faults=RUNS,
        absorbed=total,
        drain_s=drain_s,
        extra_failures=[] if total == expected else [f"{total} duplicates, expected {expected}"],
        notes=f"{total / RUNS:.0f} absorbed duplicate per run",
    )
