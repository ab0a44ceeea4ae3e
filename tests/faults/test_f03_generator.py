"""F3: the generator SIGKILLed mid-transaction, and an exception injected between a
signal's INSERT and its outbox INSERT. I1 holds (a transaction commits whole or not at
all) and an aborted signal reaches Alpine zero times."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import argo.signals.writes
from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.faults.harness import counts, wait_settled
from tests.faults.invariants import check, size
from tests.kit.alpine import Alpine
from tests.kit.factories import make_signals
from tests.kit.pipeline import relay_env
from tests.support import spawn, stop, wait_for

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))


class Injected(RuntimeError):
    """The exception put between the signal INSERT and the outbox INSERT."""


def _inject_after(monkeypatch: pytest.MonkeyPatch, inserts: int) -> None:
    """Raise in the `inserts`-th outbox INSERT, after its signal row went in."""
    original = argo.signals.writes._insert_event
    seen = {"n": 0}

    def failing(conn: sqlite3.Connection, event: Any) -> None:
        seen["n"] += 1
        if seen["n"] == inserts:
            raise Injected("between the signal INSERT and the outbox INSERT")
        original(conn, event)

    monkeypatch.setattr(argo.signals.writes, "_insert_event", failing)


def test_f03_generator_killed_and_failing_mid_transaction(
    alpine: Alpine, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kills, injections = size(4, 20), size(4, 20)
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    open_signals(db).close()
    rng = random.Random(SEED + 3)
    for round_number in range(kills):
        target = counts(db)[2] + rng.randint(1, 300)
        generator = spawn(
            "argo",
            "generate",
            "--count",
            "100000",
            "--batch-size",
            "50",
            "--seed",
            str(round_number),
            env=env,
            log=tmp_path / f"argo-{round_number}.log",
        )
        wait_for(
            lambda g=generator, t=target: g.poll() is not None or counts(db)[2] >= t,  # type: ignore[misc]
            timeout=60,
            interval=0.002,
            what="the generator to store some signals",
        )
        os.kill(generator.pid, signal.SIGKILL)
        generator.wait(10)

    aborted: list[str] = []
    store = open_signals(db)
    try:
        batches = [make_signals(10, seed=100 + i) for i in range(injections)]
        for batch in batches:
            with monkeypatch.context() as patch:
                _inject_after(patch, rng.randint(1, len(batch)))
                with pytest.raises(Injected):
                    store.add_many(batch, utc_now())
            aborted.extend(s.signal_id for s in batch)
        stored_ids = {s.signal.signal_id for s in store.signals_with_ids(aborted)}
        assert not stored_ids, "an aborted transaction left signals behind"
        store.add_many(make_signals(10, seed=999), utc_now())  # the store works on
    finally:
        store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    try:
        drain_s = wait_settled(db, timeout=120)
    finally:
        stop(relay)
    check(
        "F3 generator SIGKILL / exception mid-transaction",
        db=db,
        pg_url=pg_url,
        env=env,
        n=counts(db)[2],
        faults=kills + injections,
        drain_s=drain_s,
        never_in_alpine=aborted,
        notes=f"{kills} SIGKILLs, {injections} injected exceptions; {len(aborted)} aborted"
        " signals reached Alpine 0 times",
    )
