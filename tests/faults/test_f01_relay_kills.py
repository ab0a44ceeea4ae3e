"""F1: the relay SIGKILLed at random instants (exponential gaps) while it delivers; a
latency of ~50 ms per POST keeps the stream going long enough for every kill to land
mid-stream. Each restarted relay takes its dead predecessor's slot and leases at once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import Absorbed, check, seconds, size
from tests.kit.alpine import Alpine
from tests.kit.netfaults import Mode, netfault_proxy
from tests.kit.pipeline import generate, relay_env
from tests.support import cli, spawn, stop, wait_for

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))


def _started(log: Path, relay: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: b"relay started" in log.read_bytes() or relay.poll() is not None


def test_f01_relay_sigkill_at_random_instants(alpine: Alpine, pg_url: str, tmp_path: Path) -> None:
    n, kills, mean_gap = size(1000, 10000), size(8, 50), seconds(0.5, 1.0)
    db = tmp_path / "signals.db"
    rng = random.Random(SEED)
    absorbed = Absorbed()
    with netfault_proxy(alpine.url) as proxy:
        proxy.set(Mode.LATENCY)
        proxy.latency, proxy.jitter = 0.05, 0.02
        env = relay_env(alpine, tmp_path, ALPINE_API_URL=proxy.url, RELAY_BATCH_SIZE="20")
        generate(env, n, "--batch-size", "200")
        landed = 0
        for round_number in range(kills):
            log = tmp_path / f"relay-{round_number}.log"
            relay = spawn("relay", "run", env=env, log=log)
            started = _started(log, relay)
            wait_for(started, timeout=30, what="the relay to start")
            time.sleep(rng.expovariate(1 / mean_gap))  # the fault's timing, not a wait
            assert relay.poll() is None, log.read_text()
            os.kill(relay.pid, signal.SIGKILL)
            relay.wait(10)
            landed += 1
            if counts(db)[0] == n:
                break
        delivered_during_chaos = counts(db)[0]
        absorbed.scrape(alpine)
        healed = time.monotonic()
        final = spawn("relay", "run", env=env, log=tmp_path / "relay-final.log")
        try:
            wait_settled(db, timeout=seconds(60, 300))
        finally:
            stop(final)
        drain_s = time.monotonic() - healed
    assert cli("relay", "run", "--once", env=relay_env(alpine, tmp_path)).returncode == 0
    total = absorbed.scrape(alpine)
    check(
        "F1 relay SIGKILL at random instants",
        db=db,
        pg_url=pg_url,
        env=relay_env(alpine, tmp_path),
        n=n,
        faults=landed,
        absorbed=total,
        drain_s=drain_s,
        notes=f"{landed} kills, {delivered_during_chaos} delivered during them,"
        f" {total / max(landed, 1):.1f} duplicate POSTs per kill",
    )
