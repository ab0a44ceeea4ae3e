"""F4: Alpine SIGKILLed while the relay delivers, both just after its PostgreSQL COMMIT
and before the response (alpine/crashpoint.py `after_commit`), and at random instants.
The relay treats the dead connection as an outage, redelivers, and Alpine absorbs the
redelivery as duplicates: at least one per post-commit kill."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from tests.faults.harness import counts, start_alpine_like, wait_settled
from tests.faults.invariants import Absorbed, check, seconds, size
from tests.kit.pipeline import generate, relay_env
from tests.support import AlpineServer, spawn, stop, wait_for

# Alpine is killed and restarted: a real `alpine serve`.
pytestmark = pytest.mark.alpine_process

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))


def test_f04_alpine_sigkill_after_commit_and_at_random(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    n, post_commit_kills, random_kills = size(600, 5000), size(3, 10), size(2, 10)
    db = tmp_path / "signals.db"
    rng = random.Random(SEED + 4)
    env = relay_env(alpine, tmp_path, RELAY_BATCH_SIZE="10", RELAY_OUTAGE_CAP_SECONDS="0.5")
    generate(env, n, "--batch-size", "200")
    absorbed = Absorbed()
    stop(alpine.process)  # the fixture's instance; the shim ones below take its port
    server = alpine
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    commits_killed = 0
    try:
        for kill in range(post_commit_kills + random_kills):
            after_commit = kill < post_commit_kills
            crash = {"ALPINE_TEST_CRASH_AT": f"after_commit:{rng.randint(1, 5)}"}
            server = start_alpine_like(
                server,
                pg_url,
                tmp_path,
                extra_env=crash if after_commit else None,
                may_die=after_commit,
            )
            if after_commit:
                wait_for(
                    lambda s=server: (
                        absorbed.scrape(s) is not None  # type: ignore[misc]
                        and s.process.poll() is not None
                    ),
                    timeout=60,
                    interval=0.05,
                    what="alpine to reach its post-commit crash point",
                )
                assert server.process.returncode == -9, server.log.read_text()[-2000:]
                commits_killed += 1
            else:
                time.sleep(rng.uniform(0.05, 0.6))  # the fault's timing, not a wait
                absorbed.scrape(server)
                server.process.kill()
                server.process.wait(10)
        during = counts(db)[0]
        healed = time.monotonic()
        server = start_alpine_like(server, pg_url, tmp_path)
        wait_settled(db, timeout=seconds(60, 300))
        drain_s = time.monotonic() - healed
        absorbed.scrape(server)
        stop(relay)
        failures = []
        if absorbed.total < commits_killed:
            failures.append(f"{absorbed.total} duplicates absorbed < {commits_killed} kills")
        check(
            "F4 Alpine SIGKILL (post-commit and random)",
            db=db,
            pg_url=pg_url,
            env=env,
            n=n,
            faults=commits_killed + random_kills,
            absorbed=absorbed.total,
            drain_s=drain_s,
            extra_failures=failures,
            notes=f"{commits_killed} after COMMIT (alpine/store.py's crash point),"
            f" {random_kills} at random;"
            f" {during} delivered during the kills",
        )
    finally:
        stop(relay)
        stop(server.process)
