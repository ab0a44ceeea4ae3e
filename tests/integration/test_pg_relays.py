"""Two real relay drivers side by side on one PostgreSQL outbox: per-signal order holds
across relays, the LISTEN/NOTIFY hint wakes an idle relay, and worker slots are global."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from argo.outbox import WorkerState, open_outbox
from argo.outbox.pg_store import PgOutboxStore
from argo.signal import Outcome, OutcomeKind
from argo.signals import open_signals
from argo.timeutil import utc_now
from relay.metrics import RelayMetrics
from relay.status_view import render
from tests.kit.factories import make_signals
from tests.kit.pgdb import argo_database
from tests.kit.relay import ScriptedAlpine, outbox_rows, relay_for
from tests.support import wait_for


@pytest.fixture
def db() -> Iterator[Path]:
    with argo_database() as url:
        yield Path(url)


class OrderCheckingAlpine(ScriptedAlpine):
    """Answers like Alpine (an outcome for a signal it lacks is 404) and records any
    outcome that reached it before its signal's creation was acknowledged."""

    def __init__(self) -> None:
        self.acknowledged: set[str] = set()
        self.outcomes: list[str] = []
        self.early: list[str] = []
        super().__init__(self._answer_item, delay=0.002)

    def _answer_item(self, item: dict[str, Any]) -> int:
        signal_id = str(item["signal_id"])
        if "outcome" in item:
            if signal_id not in self.acknowledged:
                self.early.append(signal_id)
                return 404
            self.outcomes.append(signal_id)
            return 200
        self.acknowledged.add(signal_id)
        return 201


def test_an_outcome_is_never_sent_before_its_creation_across_relays(db: Path) -> None:
    signals = make_signals(120)
    store = open_signals(db)
    alpine = OrderCheckingAlpine()
    stop = threading.Event()
    try:
        with (
            relay_for(db, alpine, worker_id="h:relay-0", batch_size=7) as first,
            relay_for(db, alpine, worker_id="h:relay-1", batch_size=7) as second,
        ):
            runners = [
                threading.Thread(target=app.relay.run, args=(stop,)) for app in (first, second)
            ]
            for runner in runners:
                runner.start()
            try:
                for start in range(0, len(signals), 10):
                    chunk = signals[start : start + 10]
                    store.add_many(chunk, utc_now())
                    store.record_outcomes(
                        [
                            Outcome(s.signal_id, s.symbol, OutcomeKind.WIN, 1.0, 1.0, utc_now())
                            for s in chunk
                        ],
                        utc_now(),
                    )
                wait_for(
                    lambda: all(r["delivered_at"] for r in outbox_rows(db)),
                    timeout=30,
                    what="every creation and outcome delivered",
                )
            finally:
                stop.set()
                for runner in runners:
                    runner.join(10)
    finally:
        store.close()
    assert alpine.early == []
    assert sorted(alpine.outcomes) == sorted(s.signal_id for s in signals)
    claimed_by = {r["claimed_by"] for r in outbox_rows(db)}
    assert claimed_by == {None}


def test_a_notify_wakes_an_idle_relay_before_its_next_poll(db: Path) -> None:
    store = open_signals(db)
    stop = threading.Event()
    try:
        with relay_for(
            db,
            ScriptedAlpine(lambda item: 201),
            idle_poll_seconds=1.0,
            rescan_seconds=30.0,
        ) as app:
            runner = threading.Thread(target=app.relay.run, args=(stop,))
            runner.start()
            try:
                delays = []
                for signal in make_signals(4, seed=3):
                    committed = time.monotonic()
                    store.add(signal, utc_now())
                    wait_for(
                        lambda: all(r["delivered_at"] for r in outbox_rows(db)),
                        timeout=5,
                        interval=0.002,
                        what="the fresh row",
                    )
                    delays.append(time.monotonic() - committed)
            finally:
                stop.set()
                runner.join(10)
    finally:
        store.close()
    assert max(delays) < 0.5, delays  # well inside the 1 s poll


def test_worker_slots_are_shared_by_every_host_and_freed_with_the_session(db: Path) -> None:
    first, second = open_outbox(db), open_outbox(db)
    assert isinstance(first, PgOutboxStore) and isinstance(second, PgOutboxStore)
    try:
        assert first.take_worker_slot(host="a") == "a:relay-0"
        assert second.take_worker_slot(host="b") == "b:relay-1"
        first.close()
        third = open_outbox(db)
        assert isinstance(third, PgOutboxStore)
        try:
            taken = wait_for(lambda: third.take_worker_slot(host="c"), what="a free slot")
            assert taken == "c:relay-0"
        finally:
            third.close()
    finally:
        second.close()


def test_status_lists_live_relays_with_host_and_pid_and_the_table_health(db: Path) -> None:
    store = open_signals(db)
    store.add_many(make_signals(3), utc_now())
    store.close()
    with relay_for(db, ScriptedAlpine(lambda item: 201), worker_id="h:relay-0") as app:
        app.relay.run_once()
        now = utc_now()
        app.outbox.admin().record_worker("h:relay-0", WorkerState.RUNNING, now)
        status, workers = app.outbox.status(now), app.outbox.admin().workers(now)
    assert status.delivered == 3 and status.table is not None
    assert status.table.total_bytes > 0
    (worker,) = workers
    assert worker.host and worker.pid
    lines = dict(render(status, workers, now))
    assert "pid" in lines["relays"] and "table" in lines


def test_the_table_health_is_exported_to_prometheus(db: Path) -> None:
    store = open_signals(db)
    store.add_many(make_signals(3), utc_now())
    store.close()
    with relay_for(db, ScriptedAlpine(lambda item: 201)) as app:
        app.relay.run_once()
        metrics = RelayMetrics()
        metrics.watch_outbox(lambda: app.outbox.backlog(utc_now()), app.outbox.table_health)
        text = generate_latest(metrics.registry).decode()
    assert re.search(r"^relay_outbox_table_bytes [1-9]", text, re.MULTILINE), text
    assert re.search(r"^relay_outbox_dead_tuples \d", text, re.MULTILINE), text
