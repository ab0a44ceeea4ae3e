"""A restarted relay takes its SIGKILLed predecessor's leases back at once (its slot's
flock proves the holder dead), while a second live relay never touches them."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.kit.faultproxy import slow_proxy
from tests.kit.pipeline import assert_exactly_once, generate, outbox_counts, outbox_rows, relay_env
from tests.support import AlpineServer, spawn, stop, wait_for


def _leased(db: Path) -> list[str]:
    return [
        str(r["claimed_by"]) for r in outbox_rows(db) if r["claim_token"] and not r["delivered_at"]
    ]


def test_a_restarted_relay_takes_over_its_dead_slot_at_once(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path, RELAY_LEASE_SECONDS="600", RELAY_BATCH_SIZE="20")
    generate(env, 60)
    with slow_proxy(alpine.url, delay=3.0) as proxy:
        slow = dict(env, ALPINE_API_URL=proxy.url)
        first = spawn("relay", "run", env=slow, log=tmp_path / "first.log")
        try:
            holders = wait_for(lambda: _leased(db), timeout=15, what="a window in flight")
            assert {h.rsplit(":", 1)[1] for h in holders} == {"relay-0"}
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            stop(first)
    killed_at = time.monotonic()
    second = spawn("relay", "run", env=env, log=tmp_path / "second.log")
    try:
        wait_for(lambda: outbox_counts(db)[0] == 60, timeout=30, what="the rows to be redelivered")
        redelivered_after = time.monotonic() - killed_at
    finally:
        stop(second)
    assert redelivered_after < 10, redelivered_after  # not the 600 s lease
    assert "leases_taken_over" in (tmp_path / "second.log").read_text() or redelivered_after < 10
    assert assert_exactly_once(pg_url, db) == 60
    print(
        f"\nACCEPTANCE takeover: SIGKILL with 600 s leases, redelivered in {redelivered_after:.1f}s"
    )


def test_two_live_relays_take_different_slots(alpine: AlpineServer, tmp_path: Path) -> None:
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    generate(env, 5)
    relays = [spawn("relay", "run", env=env, log=tmp_path / f"relay-{n}.log") for n in range(2)]
    try:
        wait_for(lambda: outbox_counts(db)[0] == 5, what="delivery")
        wait_for(
            lambda: (
                sorted(db.parent.glob("signals.db.relay-*.lock"))
                and all(
                    "relay started" in (tmp_path / f"relay-{n}.log").read_text() for n in range(2)
                )
            ),
            what="both relays to start",
        )
    finally:
        for relay in relays:
            stop(relay)
    logs = " ".join((tmp_path / f"relay-{n}.log").read_text() for n in range(2))
    assert "relay-0" in logs and "relay-1" in logs
