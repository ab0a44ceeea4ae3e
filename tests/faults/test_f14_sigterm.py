"""F14: SIGTERM while a window's POSTs are in flight (a 1 s latency on each): the relay
finishes them, releases the rest uncharged, exits 0 within the unit's TimeoutStopSec,
and a restarted relay delivers the rest."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

from tests.faults.harness import attempts_charged, counts, wait_settled
from tests.faults.invariants import Absorbed, check, size
from tests.kit.alpine import Alpine
from tests.kit.netfaults import Mode, netfault_proxy
from tests.kit.pipeline import generate, relay_env
from tests.support import ROOT, spawn, stop, wait_for


def _timeout_stop_seconds() -> float:
    unit = (ROOT / "deploy" / "systemd" / "argo-relay.service").read_text()
    match = re.search(r"^TimeoutStopSec=(\d+)s?$", unit, re.M)
    assert match, "argo-relay.service has no TimeoutStopSec"
    return float(match.group(1))


def test_f14_sigterm_mid_batch(alpine: Alpine, pg_url: str, tmp_path: Path) -> None:
    n, terms = size(300, 3000), size(2, 10)
    db = tmp_path / "signals.db"
    limit = _timeout_stop_seconds()
    absorbed = Absorbed()
    with netfault_proxy(alpine.url) as proxy:
        proxy.set(Mode.LATENCY)
        proxy.latency, proxy.jitter = 1.0, 0.2
        env = relay_env(
            alpine,
            tmp_path,
            ALPINE_API_URL=proxy.url,
            RELAY_BATCH_SIZE="25",
            RELAY_LEASE_SECONDS="600",
        )
        generate(env, n, "--batch-size", "100")
        slowest = 0.0
        for round_number in range(terms):
            seen = proxy.exchanges[Mode.LATENCY]
            relay = spawn("relay", "run", env=env, log=tmp_path / f"relay-{round_number}.log")
            wait_for(
                lambda s=seen: proxy.exchanges[Mode.LATENCY] > s + 1,  # type: ignore[misc]
                timeout=30,
                what="POSTs in flight",
            )
            relay.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            assert relay.wait(limit) == 0
            slowest = max(slowest, time.monotonic() - sent)
            leased = [r for r in _leased(db)]
            assert not leased, f"{len(leased)} rows left leased after SIGTERM"
        during = counts(db)[0]
        healed = time.monotonic()
        proxy.set(Mode.PASS)
        relay = spawn("relay", "run", env=env, log=tmp_path / "relay-final.log")
        try:
            wait_settled(db, timeout=120)
        finally:
            stop(relay)
        drain_s = time.monotonic() - healed
    absorbed.scrape(alpine)
    failures = [] if attempts_charged(db) == 0 else ["SIGTERM charged attempts"]
    check(
        "F14 SIGTERM mid-batch",
        db=db,
        pg_url=pg_url,
        env=relay_env(alpine, tmp_path),
        n=n,
        faults=terms,
        absorbed=absorbed.total,
        drain_s=drain_s,
        extra_failures=failures,
        notes=f"slowest exit {slowest:.1f}s (TimeoutStopSec {limit:.0f}s);"
        f" {during} delivered before the restart",
    )


def _leased(db: Path) -> list[int]:
    import sqlite3

    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute(
            "SELECT id FROM sync_outbox WHERE claim_token IS NOT NULL AND delivered_at IS NULL"
        )
        return [int(r[0]) for r in rows]
