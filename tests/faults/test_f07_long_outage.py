"""F7: Alpine down for a long time (fast 15 s, full 10 min) while the generator commits one
signal a second. The lag gauge grows with the outage (~600 s after 10 min), the
OutboxLagHigh alert fires on that series (promtool), no row is charged an attempt or
dead-lettered, and the backlog drains once Alpine is back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.faults.harness import (
    attempts_charged,
    counts,
    promtool_fires,
    sample,
    scrape,
    start_alpine_like,
    wait_settled,
)
from tests.faults.invariants import FULL, check, seconds
from tests.kit.factories import make_signals
from tests.kit.pipeline import generate, relay_env
from tests.support import AlpineServer, free_port, spawn, stop, wait_for

# Alpine is stopped and restarted: a real `alpine serve`.
pytestmark = pytest.mark.alpine_process

LAG = "relay_outbox_oldest_pending_age_seconds"


def _write_one_a_second(db: Path, stop_writing: threading.Event, written: list[str]) -> None:
    """The generator's own store code, one signal (with its outbox row) a second."""
    store = open_signals(db)
    try:
        for signal in make_signals(2000, seed=7):
            if stop_writing.wait(1.0):
                return
            if store.add_many([signal], utc_now()):
                written.append(signal.signal_id)
    finally:
        store.close()


def _per_minute(samples: list[tuple[float, float]], minutes: int) -> list[float]:
    """The sample nearest each whole minute of the outage (what a 1m scrape would keep)."""
    return [min(samples, key=lambda s: abs(s[0] - 60 * m))[1] for m in range(minutes + 1)]


def test_f07_alpine_down_long_while_signals_keep_coming(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    outage = seconds(15.0, 600.0)
    db = tmp_path / "signals.db"
    port = free_port()
    env = relay_env(alpine, tmp_path, RELAY_METRICS_PORT=str(port))
    generate(env, 20)
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    stop_writing, written = threading.Event(), []
    writer = threading.Thread(target=_write_one_a_second, args=(db, stop_writing, written))
    server = alpine
    try:
        wait_for(lambda: counts(db)[0] == 20, timeout=30, what="the first 20 delivered")
        stop(alpine.process)
        went_down = time.monotonic()
        writer.start()
        samples: list[tuple[float, float]] = []
        while (elapsed := time.monotonic() - went_down) < outage:
            text = scrape(port)
            lag = sample(text, LAG) if text else None
            if lag is not None:
                samples.append((elapsed, lag))
            time.sleep(1.0)  # one scrape a second through the outage, its duration
        charged, dead = attempts_charged(db), counts(db)[1]
        server = start_alpine_like(alpine, pg_url, tmp_path)
        healed = time.monotonic()
        stop_writing.set()
        writer.join(10)
        drain_s = wait_settled(db, timeout=seconds(60, 180))
        _judge(
            samples, outage, charged, dead, db, pg_url, env, drain_s, healed, len(written), tmp_path
        )
    finally:
        stop_writing.set()
        stop(relay)
        stop(server.process)


def _judge(
    samples: list[tuple[float, float]],
    outage: float,
    charged: int,
    dead: int,
    db: Path,
    pg_url: str,
    env: dict[str, str],
    drain_s: float,
    healed: float,
    written: int,
    tmp_path: Path,
) -> None:
    peak = max(lag for _, lag in samples)
    failures = []
    if not outage - 3 <= peak <= outage + 3:
        failures.append(f"the lag gauge peaked at {peak:.0f}s during a {outage:.0f}s outage")
    if min(lag for _, lag in samples) < 0:
        failures.append("the lag gauge went negative")
    if charged or dead:
        failures.append(f"the outage charged {charged} attempts and made {dead} dead letters")
    if FULL:
        series, how = _per_minute(samples, int(outage // 60)), "the measured series"
    else:  # the measured growth, carried on to 10 minutes
        slope = (samples[-1][1] - samples[0][1]) / (samples[-1][0] - samples[0][0])
        series, how = [slope * 60 * m for m in range(11)], f"growth {slope:.2f}s/s carried to 10m"
    fired = promtool_fires(
        tmp_path, [(f'{LAG}{{job="argo-relay"}}', series)], "OutboxLagHigh", len(series) - 1
    )
    if not fired:
        failures.append(f"OutboxLagHigh did not fire on {how}: {series}")
    check(
        "F7 Alpine down long, 1 signal/s",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=1,
        drain_s=drain_s,
        extra_failures=failures,
        notes=f"down {outage:.0f}s, {written} signals meanwhile, lag peaked {peak:.0f}s,"
        f" attempts charged {charged}, OutboxLagHigh fired ({how}),"
        f" drained {time.monotonic() - healed:.1f}s after recovery",
    )
