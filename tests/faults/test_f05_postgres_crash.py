"""F5: Alpine's PostgreSQL stopped with `-m immediate` (a crash: no checkpoint, no clean
shutdown) under load, again and again, on a private throwaway cluster with fsync on.
Alpine answers 503 meanwhile, the relay waits it out as an outage, and I7 holds: every
signal the relay recorded as acknowledged before the crash is still in Alpine after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import (
    Absorbed,
    assert_acknowledged_survive,
    check,
    delivered_signal_ids,
    seconds,
    size,
)
from tests.kit.factories import make_signals
from tests.kit.pipeline import relay_env
from tests.kit.private_postgres import PrivateCluster, create_cluster, destroy
from tests.support import cli, new_api_key, new_signing_secret, spawn, start_alpine, stop

BATCH, EVERY = 5, 0.05  # the load: 5 signals every 50 ms while the cycles run


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    created = create_cluster()
    if created is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    created.durable = True
    created.start()
    yield created
    destroy(created)


def _load(db: Path, stop_writing: threading.Event, budget: int) -> None:
    """Commit signals with the generator's own store code until told to stop."""
    store = open_signals(db)
    try:
        signals = make_signals(budget, seed=5)
        for start in range(0, budget, BATCH):
            if stop_writing.wait(EVERY):
                return
            store.add_many(signals[start : start + BATCH], utc_now())
    finally:
        store.close()


def test_f05_postgres_crashed_under_load(cluster: PrivateCluster, tmp_path: Path) -> None:
    cycles, up_s, down_s = size(2, 5), seconds(1.0, 4.0), seconds(1.0, 3.0)
    db = tmp_path / "signals.db"
    upgrade = cli("alpine", "db", "upgrade", env={"ALPINE_DATABASE_URL": cluster.url})
    assert upgrade.returncode == 0, upgrade.stderr
    alpine = start_alpine(
        cluster.url, tmp_path, api_keys=[new_api_key()], signing_secret=new_signing_secret()
    )
    env = relay_env(alpine, tmp_path, RELAY_OUTAGE_CAP_SECONDS="0.5")
    open_signals(db).close()
    stop_writing = threading.Event()
    writer = threading.Thread(target=_load, args=(db, stop_writing, size(2000, 10000)))
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    absorbed = Absorbed()
    acknowledged_at_crashes = []
    try:
        writer.start()
        for _ in range(cycles):
            time.sleep(up_s)  # load against a healthy database, the fault's rhythm
            absorbed.scrape(alpine)
            cluster.stop()
            acknowledged = delivered_signal_ids(db)
            acknowledged_at_crashes.append(len(acknowledged))
            time.sleep(down_s)  # the database stays down this long
            cluster.start()
            assert_acknowledged_survive(acknowledged, cluster.url)
        stop_writing.set()
        writer.join(30)
        healed = time.monotonic()
        wait_settled(db, timeout=seconds(60, 180))
        drain_s = time.monotonic() - healed
        absorbed.scrape(alpine)
        check(
            "F5 PostgreSQL crash (-m immediate) under load",
            db=db,
            pg_url=cluster.url,
            env=env,
            n=counts(db)[2],
            faults=cycles,
            absorbed=absorbed.total,
            drain_s=drain_s,
            notes=f"{cycles} crashes, down {down_s:g}s each; I7 held at each: acknowledged"
            f" then {', '.join(map(str, acknowledged_at_crashes))}",
        )
    finally:
        stop_writing.set()
        stop(relay)
        stop(alpine.process)
