"""F9: one poison row among many. Argo commits a signal Alpine refuses for its content
(a `reasoning` longer than Alpine's bound: 422) in the middle of a steady stream. It is
dead-lettered at once, every other signal is delivered, and their lag stays within twice
the lag of the same stream without the poison."""

from __future__ import annotations

import dataclasses
import statistics
import threading
from pathlib import Path

from argo.signal import Signal
from argo.signals import open_signals
from argo.timeutil import from_text, utc_now
from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import check, size
from tests.kit.alpine import Alpine
from tests.kit.factories import make_signals
from tests.kit.pipeline import outbox_rows, relay_env
from tests.support import cli, spawn, stop, wait_for

BATCH, EVERY = 5, 0.05  # 100 signals a second


def _stream(db: Path, signals: list[Signal]) -> None:
    """Commit `signals` in small batches at a steady rate, with the generator's store."""
    store = open_signals(db)
    paced = threading.Event()
    try:
        for start in range(0, len(signals), BATCH):
            paced.wait(EVERY)  # the stream's rate, not a wait for a condition
            store.add_many(signals[start : start + BATCH], utc_now())
    finally:
        store.close()


def _lags(db: Path, skip: set[str]) -> list[float]:
    return [
        (from_text(str(r["delivered_at"])) - from_text(str(r["created_at"]))).total_seconds()
        for r in outbox_rows(db)
        if r["delivered_at"] and r["signal_id"] not in skip
    ]


def _p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1]


def test_f09_a_poison_row_is_dead_and_the_rest_flow_on_time(
    alpine: Alpine, pg_url: str, tmp_path: Path
) -> None:
    n = size(200, 1000)
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    signals = make_signals(2 * n, seed=9)
    normal, streamed = signals[:n], signals[n:]
    poison_at = n // 2
    poison = dataclasses.replace(streamed[poison_at], reasoning="x" * 5000)
    streamed[poison_at] = poison
    open_signals(db).close()
    log = tmp_path / "relay.log"
    relay = spawn("relay", "run", env=env, log=log)
    try:
        wait_for(lambda: b"relay started" in log.read_bytes(), timeout=30, what="the relay")
        _stream(db, normal)  # the same stream without the poison: the normal lag
        wait_settled(db, timeout=60)
        baseline = _lags(db, set())
        _stream(db, streamed)
        wait_settled(db, timeout=60)
    finally:
        stop(relay)
    others = _lags(db, {s.signal_id for s in normal} | {poison.signal_id})
    dead = [r for r in outbox_rows(db) if r["dead_at"]]
    failures = []
    if [r["signal_id"] for r in dead] != [poison.signal_id]:
        failures.append(f"dead letters {[r['signal_id'] for r in dead]}, expected the poison")
    elif "422" not in str(dead[0]["last_error"]) and "reasoning" not in str(dead[0]["last_error"]):
        failures.append(f"the dead letter does not say why: {dead[0]['last_error']}")
    limit = max(2 * _p90(baseline), _p90(baseline) + 0.05)
    if _p90(others) > limit:
        failures.append(f"others' p90 lag {_p90(others):.3f}s > {limit:.3f}s (normal x2)")
    listed = cli("relay", "dead", "list", "--events", env=env)
    if poison.signal_id not in listed.stdout:
        failures.append("relay dead list --events does not show the poison")
    check(
        "F9 poison row (422) in a 100/s stream",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=1,
        expect_dead=[poison.signal_id],
        extra_failures=failures,
        notes=f"1 of {n} dead ({str(dead[0]['last_error'])[:90] if dead else '-'});"
        f" others' lag p50/p90 {statistics.median(others) * 1000:.0f}/{_p90(others) * 1000:.0f} ms"
        f" vs {statistics.median(baseline) * 1000:.0f}/{_p90(baseline) * 1000:.0f} ms without it",
    )
