"""F17: two relays on one outbox at once (the daemon, plus manual `relay run --once`
runs) behind a latency, so their windows overlap. Each claims disjoint rows under a
lease with a fencing token (claim_token), in its own worker slot (an flock on
signals.db.relay-N.lock), so no row is ever sent twice: without crashes, Alpine absorbs
zero duplicates, which proves that no row was in flight twice."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.faults.harness import wait_settled
from tests.faults.invariants import Absorbed, check, size
from tests.kit.alpine import Alpine
from tests.kit.netfaults import Mode, netfault_proxy
from tests.kit.pipeline import generate, relay_env
from tests.support import ROOT, child_env, spawn, stop


def test_f17_daemon_and_a_manual_relay_at_once(alpine: Alpine, pg_url: str, tmp_path: Path) -> None:
    n, manual_runs = size(600, 5000), size(4, 20)
    db = tmp_path / "signals.db"
    with netfault_proxy(alpine.url) as proxy:
        proxy.set(Mode.LATENCY)
        proxy.latency, proxy.jitter = 0.15, 0.1
        env = relay_env(alpine, tmp_path, ALPINE_API_URL=proxy.url, RELAY_BATCH_SIZE="20")
        generate(env, n, "--batch-size", "200")
        started = time.monotonic()
        daemon = spawn("relay", "run", env=env, log=tmp_path / "daemon.log")
        codes = []
        try:
            for _ in range(manual_runs):
                manual = subprocess.run(
                    [sys.executable, "-m", "relay", "run", "--once", "--deadline-seconds", "2"],
                    env=child_env(env),
                    capture_output=True,
                    text=True,
                    timeout=60,
                    cwd=ROOT,
                )
                codes.append(manual.returncode)
                assert manual.returncode in (0, 3), manual.stderr
            wait_settled(db, timeout=120)
        finally:
            stop(daemon)
        drain_s = time.monotonic() - started
    absorbed = Absorbed()
    absorbed.scrape(alpine)
    failures = [] if absorbed.total == 0 else [f"{absorbed.total} rows were sent twice"]
    check(
        "F17 two relays at once",
        db=db,
        pg_url=pg_url,
        env=relay_env(alpine, tmp_path),
        n=n,
        faults=manual_runs,
        absorbed=absorbed.total,
        drain_s=drain_s,
        extra_failures=failures,
        notes="disjoint claims: lease + fencing token, one flock slot per relay;"
        f" manual runs exited {sorted(set(codes))}",
    )
