"""F6: network faults between the relay and Alpine (tests/kit/netfaults.py): resets (before
and after the request reached Alpine), blackholes on connect and on read, 2 s ± 1 s
latency, a slow drip of the answer, truncated answers, and Alpine unreachable for a
while. Signals are committed during every fault. Nothing is lost or stored twice, and
no single POST attempt outlives RELAY_POST_DEADLINE_SECONDS.

The relay runs in this process (the real composition root and HTTP stack), so every
attempt (relay.deliver.Deliverer._post) can be timed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relay.app import relay_app
from relay.deliver import Deliverer
from relay.settings_load import config_from_env
from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import Absorbed, check, seconds, size
from tests.kit.netfaults import Mode, NetFaultProxy, netfault_proxy
from tests.kit.pipeline import generate, relay_env
from tests.support import AlpineServer, wait_for

# The relay runs in this process and its attempts are timed: Alpine stays in its own.
pytestmark = pytest.mark.alpine_process

DEADLINE = 4.0  # RELAY_POST_DEADLINE_SECONDS for this scenario
READ_TIMEOUT = 1.5  # RELAY_REQUEST_TIMEOUT_SECONDS
SLACK = 0.5
PHASES = [
    Mode.RESET,
    Mode.RESET_AFTER_FORWARD,
    Mode.BLACKHOLE_CONNECT,
    Mode.BLACKHOLE_READ,
    Mode.LATENCY,
    Mode.TRUNCATE,
    Mode.DOWN,
]


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Wall time of every POST attempt the relay makes."""
    times: list[float] = []
    original = Deliverer._post

    def timed(self: Deliverer, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return original(self, *args, **kwargs)
        finally:
            times.append(time.monotonic() - started)

    monkeypatch.setattr(Deliverer, "_post", timed)
    yield times


def _phase(
    proxy: NetFaultProxy, mode: Mode, env: dict[str, str], per_phase: int, hold: float, seed: int
) -> None:
    proxy.set(mode)
    generate(env, per_phase, "--seed", str(seed), "--batch-size", "10")
    started = time.monotonic()
    if mode not in (Mode.BLACKHOLE_CONNECT, Mode.DOWN):  # these never reach an exchange
        wait_for(lambda: proxy.exchanges[mode] > 0, timeout=30, what=f"a request to meet {mode}")
    time.sleep(max(0.0, hold - (time.monotonic() - started)))  # the fault's duration


def _run(
    scenario: str,
    phases: list[Mode],
    alpine: AlpineServer,
    pg_url: str,
    tmp_path: Path,
    attempts: list[float],
) -> None:
    per_phase, hold, down = size(20, 200), seconds(1.0, 6.0), seconds(2.0, 60.0)
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    generate(env, per_phase)
    with netfault_proxy(alpine.url) as proxy:
        proxy.drip_seconds = 0.05
        relay_settings = dict(
            env,
            ALPINE_API_URL=proxy.url,
            RELAY_BATCH_SIZE="10",
            RELAY_POST_DEADLINE_SECONDS=str(DEADLINE),
            RELAY_REQUEST_TIMEOUT_SECONDS=str(READ_TIMEOUT),
            RELAY_OUTAGE_CAP_SECONDS="1",
        )
        config = config_from_env(relay_settings)
        stop = threading.Event()
        with relay_app(config) as app:
            runner = threading.Thread(target=app.relay.run, args=(stop,), daemon=True)
            runner.start()
            try:
                for seed, mode in enumerate(phases, start=1):
                    held = {Mode.DOWN: down, Mode.DRIP: 2 * DEADLINE + 1}.get(mode, hold)
                    _phase(proxy, mode, env, per_phase, held, seed)
                healed = time.monotonic()
                proxy.set(Mode.PASS)
                wait_settled(db, timeout=seconds(60, 180))
                drain_s = time.monotonic() - healed
            finally:
                stop.set()
                runner.join(60)
        faults = dict(proxy.exchanges)
    absorbed = Absorbed()
    absorbed.scrape(alpine)
    longest = max(attempts, default=0.0)
    failures = []
    if longest > DEADLINE + SLACK:
        failures.append(
            f"the longest single attempt took {longest:.1f}s, past the {DEADLINE}s deadline"
        )
    faulted = {k: v for k, v in faults.items() if k is not Mode.PASS}
    blind = [m.value for m in phases if m in (Mode.BLACKHOLE_CONNECT, Mode.DOWN)]
    check(
        scenario,
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=sum(faulted.values()),
        absorbed=absorbed.total,
        drain_s=drain_s,
        extra_failures=failures,
        notes=f"longest attempt {longest:.1f}s (deadline {DEADLINE:g}s); requests faulted: "
        + ", ".join(f"{k.value} {v}" for k, v in faulted.items())
        + (f"; also {', '.join(blind)} (down {down:g}s)" if blind else ""),
    )


def test_f06_network_faults(
    alpine: AlpineServer, pg_url: str, tmp_path: Path, attempts: list[float]
) -> None:
    _run("F6 network faults", PHASES, alpine, pg_url, tmp_path, attempts)


def test_f06_slow_drip_is_cut_at_the_post_deadline(
    alpine: AlpineServer, pg_url: str, tmp_path: Path, attempts: list[float]
) -> None:
    _run("F6 slow drip (headers)", [Mode.DRIP], alpine, pg_url, tmp_path, attempts)
