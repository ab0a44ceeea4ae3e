"""F13: clocks.

(a) The wall clock steps +1 h and then back -1 h while the relay drains a backlog. The
    relay and the generator share the host's clock, so both run in this process under
    freezegun (`freeze_time(tick=True)`, then `move_to`); Alpine is a child on the true
    clock and has no signing secret here (a step against a signing Alpine is (b)).
    freezegun replaces `datetime.now`, `time.time`, `time.monotonic` and
    `time.perf_counter`, but not `time.clock_gettime`: the leases (argo/outbox/lease.py,
    CLOCK_BOOTTIME) and every relay duration (`steady_seconds`) keep the true clock, as on
    a real host. A real step (NTP, an operator) does not move CLOCK_MONOTONIC either, so
    the real `time.monotonic`/`time.perf_counter` are put back under the frozen clock.
    Must show: 0 lost / 0 unexpected / 0 duplicate rows, nothing charged or dead, the lag
    gauge (`relay_outbox_oldest_pending_age_seconds`, read in process as `relay run`
    exports it) never negative, and the backlog drains within normal time after each step.

(b) The relay's host clock is ±10 min off Alpine's while Alpine has a signing secret
    (Standard Webhooks: 5 min tolerance). Alpine answers 401 naming the timestamp, the
    relay pauses (`relay_paused` 1, its worker row paused with the reason), charges no
    attempt and dead-letters nothing; once the clock is right again everything is
    delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import freezegun.api
import pytest
from freezegun import freeze_time

from argo.outbox import Worker, WorkerState, open_outbox
from argo.signals import open_signals
from argo.signals.port import SignalStore
from argo.timeutil import utc_now
from relay.app import RelayApp, relay_app
from relay.settings_load import config_from_env
from tests.faults.harness import attempts_charged, counts, settled
from tests.faults.invariants import check, seconds, size
from tests.kit.alpine import Alpine
from tests.kit.factories import make_signals
from tests.kit.netfaults import Mode, netfault_proxy
from tests.kit.pipeline import relay_env
from tests.support import new_api_key, start_alpine, stop, wait_for

# The relay's clock is stepped by freezegun in this process: Alpine keeps the true one
# in a real `alpine serve`.
pytestmark = pytest.mark.alpine_process

DRAIN_WITHIN = seconds(10.0, 30.0)  # a healthy relay drains these backlogs in a few s


class DeliveryStalled(AssertionError):
    """The backlog did not drain after the clock was put right (the bug the xfails name)."""


@contextmanager
def stepped_wall_clock(start: datetime) -> Iterator[freezegun.api.StepTickTimeFactory]:
    """Wall time (`datetime.now`, `time.time`) starting at `start` and ticking; the
    monotonic clocks stay true, as a real wall-clock step leaves them."""
    with freeze_time(start, tick=True) as clock:
        time.monotonic = freezegun.api.real_monotonic
        time.perf_counter = freezegun.api.real_perf_counter
        yield clock  # freezegun's stop() puts the real ones back in any case


@contextmanager
def running_relay(env: dict[str, str]) -> Iterator[RelayApp]:
    """The real relay (composition root, HTTP stack) in a thread of this process, with its
    outbox gauges registered as `relay run` registers them."""
    config = config_from_env(env)
    stop_event = threading.Event()
    with relay_app(config) as app:
        status_store = open_outbox(config.db_path)
        app.metrics.watch_outbox(lambda: status_store.backlog(utc_now()))
        runner = threading.Thread(target=app.relay.run, args=(stop_event,), daemon=True)
        runner.start()
        try:
            yield app
        finally:
            stop_event.set()
            runner.join(60)
            status_store.close()
    assert not runner.is_alive(), "the relay did not stop"


class LagWatch:
    """Samples the lag gauge whenever asked; remembers the lowest."""

    def __init__(self, app: RelayApp) -> None:
        self._registry = app.metrics.registry
        self.samples: list[float] = []

    def sample(self) -> float:
        value = self._registry.get_sample_value("relay_outbox_oldest_pending_age_seconds")
        assert value is not None, "no lag gauge"
        self.samples.append(value)
        return value


def _delivered(db: Path) -> int:
    return counts(db)[0]


def _commit(store: SignalStore, n: int, seed: int) -> None:
    """`n` signals committed now (the frozen clock) with their events, 25 a transaction."""
    signals = make_signals(n, seed=seed)
    for start in range(0, n, 25):
        store.add_many(signals[start : start + 25], utc_now())


def _drain(db: Path, lag: LagWatch, what: str) -> float:
    started = time.monotonic()

    def done() -> bool:
        lag.sample()
        return settled(db)

    try:
        wait_for(done, timeout=DRAIN_WITHIN, interval=0.05, what=what)
    except AssertionError as exc:
        delivered, dead, total = counts(db)
        raise DeliveryStalled(
            f"{what}: {total - delivered - dead} of {total} rows still pending after"
            f" {DRAIN_WITHIN:g}s ({exc})"
        ) from exc
    return time.monotonic() - started


def test_f13_wall_clock_steps_an_hour_both_ways(pg_url: str, tmp_path: Path) -> None:
    per_burst = size(80, 1000)
    alpine = start_alpine(pg_url, tmp_path, api_keys=[new_api_key()])
    try:
        _run_steps(alpine, pg_url, tmp_path, per_burst)
    finally:
        stop(alpine.process)


def _run_steps(alpine: Alpine, pg_url: str, tmp_path: Path, per_burst: int) -> None:
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    store = open_signals(db)
    drains: list[float] = []
    try:
        with netfault_proxy(alpine.url) as proxy:
            # Slow POSTs, so each step lands while a backlog is being drained.
            proxy.set(Mode.LATENCY)
            proxy.latency, proxy.jitter = seconds(0.1, 0.05), 0.0
            relay_settings = dict(env, ALPINE_API_URL=proxy.url, RELAY_BATCH_SIZE="10")
            with stepped_wall_clock(utc_now()) as clock, running_relay(relay_settings) as app:
                lag = LagWatch(app)
                for number, step in enumerate((timedelta(hours=1), timedelta(hours=-1))):
                    _commit(store, per_burst, seed=10 + number)
                    seen = _delivered(db)
                    wait_for(
                        lambda s=seen: lag.sample() >= 0 and _delivered(db) > s,  # type: ignore[misc]
                        timeout=30,
                        what="the relay to be draining",
                    )
                    clock.move_to(utc_now() + step)  # the step, mid-drain
                    lag.sample()
                    hours = step.total_seconds() / 3600
                    drains.append(_drain(db, lag, f"the backlog after a {hours:+.0f} h step"))
                _commit(store, per_burst, seed=20)  # and fresh signals after both steps
                drains.append(_drain(db, lag, "the signals committed after the steps"))
                lowest = min(lag.samples)
    finally:
        store.close()
    failures = [] if lowest >= 0 else [f"the lag gauge went negative ({lowest})"]
    if attempts_charged(db):
        failures.append(f"{attempts_charged(db)} attempts charged by a clock step")
    check(
        "F13a wall clock ±1 h",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=2,
        drain_s=max(drains),
        extra_failures=failures,
        notes=f"steps +1 h then -1 h mid-drain; lag gauge min {lowest:g}s over"
        f" {len(lag.samples)} samples; max_lag mixes the two wall clocks",
    )


@pytest.mark.parametrize(
    "skew_minutes",
    [
        -10,
        10,
    ],
)
def test_f13_clock_skewed_against_a_signing_alpine(
    alpine: Alpine, pg_url: str, tmp_path: Path, skew_minutes: int
) -> None:
    n = size(100, 1000)
    assert alpine.signing_secret, "this scenario needs Alpine to verify signatures"
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    store = open_signals(db)
    skew = timedelta(minutes=skew_minutes)
    try:
        with stepped_wall_clock(utc_now() + skew) as clock, running_relay(env) as app:
            lag = LagWatch(app)
            _commit(store, n, seed=30)
            paused = wait_for(
                lambda: (
                    app.metrics.registry.get_sample_value("relay_paused") == 1
                    and _paused_worker(db, app.config.worker_id)
                ),
                timeout=30,
                what="the relay to pause on Alpine's 401",
            )
            reason = (paused.detail or "").removeprefix("paused: ")
            assert "timestamp" in reason.lower(), f"the pause does not name the timestamp: {reason}"
            assert counts(db)[:2] == (0, 0), "delivered or dead-lettered while skewed"
            assert attempts_charged(db) == 0, "the skew charged attempts"
            clock.move_to(utc_now() - skew)  # the clock put right
            drain_s = _drain(db, lag, f"the backlog once the {skew_minutes:+d} min skew is gone")
            assert app.metrics.registry.get_sample_value("relay_paused") == 0
    finally:
        store.close()
    failures = [] if min(lag.samples) >= 0 else ["the lag gauge went negative"]
    check(
        f"F13b clock skew {skew_minutes:+d} min vs signing Alpine",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=1,
        drain_s=drain_s,
        extra_failures=failures,
        notes=f"401 '{reason[:80]}'; paused, 0 attempts charged, 0 dead; all delivered once"
        " the clock was right (max_lag includes the skew: created on the skewed clock)",
    )


def _paused_worker(db: Path, worker_id: str | None) -> Worker | None:
    """The relay's row in `relay_workers` (what `relay status` reads), when it says paused."""
    outbox = open_outbox(db)
    try:
        workers = outbox.admin().workers(utc_now())
    finally:
        outbox.close()
    return next(
        (w for w in workers if w.worker_id == worker_id and w.state is WorkerState.PAUSED), None
    )
