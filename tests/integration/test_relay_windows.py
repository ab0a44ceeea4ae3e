"""The relay's fates per answer, end to end through the driver, on a real SQLite file and
on a real PostgreSQL outbox, with Alpine scripted by MockTransport (batch endpoint and
single POSTs alike)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from freezegun import freeze_time

from argo.db.postgres import database_url
from argo.outbox import open_outbox
from argo.signal import Outcome, OutcomeKind
from argo.signals import open_signals
from argo.signals.port import SignalStore
from argo.signals.replay import ReplayWindow, enqueue, matching
from argo.timeutil import utc_now
from relay.fate import Verdict
from relay.pacing import RelayState
from tests.kit.factories import filled_store
from tests.kit.pgdb import conninfo
from tests.kit.relay import (
    STORES,
    ScriptedAlpine,
    always,
    outbox_location,
    outbox_rows,
    poisoned,
    relay_for,
)
from tests.support import wait_for


@pytest.fixture(params=[True, False], ids=["batch", "single"])
def use_batch(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(params=STORES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    if request.param != "sqlite" and request.node.get_closest_marker("sqlite_only"):
        pytest.skip("SQLite-only behaviour")
    with outbox_location(request.param, tmp_path) as location:
        yield location


def test_delivers_everything_and_marks_it(db: Path, use_batch: bool) -> None:
    filled_store(db, 10)[0].close()
    alpine = ScriptedAlpine(always(201))
    with relay_for(db, alpine, use_batch_endpoint=use_batch) as app:
        report = app.relay.run_once()
        assert (report.claimed, report.delivered, report.verdict) == (10, 10, Verdict.FLOWING)
        assert app.relay.run_once().claimed == 0
    assert len(alpine.paths) == (1 if use_batch else 10)
    assert all(r["delivered_at"] and r["claim_token"] is None for r in outbox_rows(db))


def test_an_outage_charges_nothing_and_backs_off(db: Path, use_batch: bool) -> None:
    filled_store(db, 10)[0].close()
    with relay_for(db, ScriptedAlpine(always(503)), use_batch_endpoint=use_batch) as app:
        assert app.relay.run_once().verdict is Verdict.OUTAGE
        assert app.relay.pacing.state is RelayState.OUTAGE
        assert app.relay.pacing.wait_seconds() > 0
    rows = outbox_rows(db)
    assert all(
        r["attempts"] == 0 and r["dead_at"] is None and r["claim_token"] is None for r in rows
    )
    assert "503" in str(rows[0]["last_error"])


@pytest.mark.parametrize("position", [0, 5])
def test_a_poison_row_is_charged_wherever_it_sits(db: Path, use_batch: bool, position: int) -> None:
    _, signals = filled_store(db, 6)
    poison = signals[position].signal_id
    with relay_for(db, ScriptedAlpine(poisoned(poison)), use_batch_endpoint=use_batch) as app:
        report = app.relay.run_once()
        assert (report.delivered, report.charged, report.verdict) == (5, 1, Verdict.FLOWING)
        assert app.relay.pacing.wait_seconds() == 0
    charged = [r for r in outbox_rows(db) if r["signal_id"] == poison]
    assert charged[0]["attempts"] == 1 and charged[0]["first_failed_at"]


def test_a_poison_row_alone_is_charged_after_a_health_probe(db: Path) -> None:
    _, signals = filled_store(db, 1)
    with relay_for(db, ScriptedAlpine(poisoned(signals[0].signal_id))) as app:
        report = app.relay.run_once()
        assert (report.charged, report.verdict) == (1, Verdict.FLOWING)
        assert app.relay.pacing.wait_seconds() == 0  # fresh signals are not held back


def test_a_lone_failure_while_alpine_is_unhealthy_is_an_outage(db: Path) -> None:
    _, signals = filled_store(db, 1)
    alpine = ScriptedAlpine(poisoned(signals[0].signal_id), healthy=False)
    with relay_for(db, alpine) as app:
        assert app.relay.run_once().verdict is Verdict.OUTAGE
    assert outbox_rows(db)[0]["attempts"] == 0


def test_a_conflict_is_a_dead_letter_at_once(db: Path, use_batch: bool) -> None:
    filled_store(db, 3)[0].close()
    with relay_for(db, ScriptedAlpine(always(409)), use_batch_endpoint=use_batch) as app:
        assert app.relay.run_once().dead == 3
    assert all(r["dead_at"] for r in outbox_rows(db))


def test_a_wrong_key_pauses_without_spending_attempts(db: Path, use_batch: bool) -> None:
    filled_store(db, 4)[0].close()
    with relay_for(db, ScriptedAlpine(always(401)), use_batch_endpoint=use_batch) as app:
        report = app.relay.run_once()
        assert (report.verdict, report.released) == (Verdict.PAUSE, 4)
        assert app.metrics.registry.get_sample_value("relay_paused") == 1.0
        assert app.relay.pacing.wait_seconds() > 1
        (worker,) = app.outbox.admin().workers(utc_now())
        assert worker.state.value == "paused" and "401" in str(worker.detail)
    assert all(r["attempts"] == 0 and r["claim_token"] is None for r in outbox_rows(db))


def test_a_rate_limit_honours_retry_after(db: Path, use_batch: bool) -> None:
    filled_store(db, 4)[0].close()
    with relay_for(db, ScriptedAlpine(always(429)), use_batch_endpoint=use_batch) as app:
        report = app.relay.run_once()
        assert (report.verdict, report.released) == (Verdict.RATE_LIMITED, 4)
        assert 6 < app.relay.pacing.wait_seconds() <= 7
    assert all(r["attempts"] == 0 for r in outbox_rows(db))


@pytest.mark.sqlite_only
def test_exhausted_rows_become_dead_letters(db: Path, use_batch: bool) -> None:
    _, signals = filled_store(db, 2)
    poison = signals[0].signal_id
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sync_outbox SET attempts = 2 WHERE signal_id = ?", (poison,))
    with relay_for(db, ScriptedAlpine(poisoned(poison)), use_batch_endpoint=use_batch) as app:
        assert app.relay.run_once().dead == 1
    assert "gave up after 3 attempts" in str(outbox_rows(db)[0]["last_error"])


def _not_alpine(kind: str) -> ScriptedAlpine:
    import httpx

    answers = {
        "200-html": httpx.Response(200, text="<html>maintenance</html>"),
        "202-empty": httpx.Response(202, json={}),
        "405": httpx.Response(405, json={"detail": "Method Not Allowed"}),
        "404-html": httpx.Response(404, text="<html>no such page</html>"),
        "302": httpx.Response(302, headers={"Location": "https://login.example/"}),
    }

    class NotAlpine(ScriptedAlpine):
        def _answer(self, request: httpx.Request) -> httpx.Response:
            return answers[kind]

    return NotAlpine(always(201))


@pytest.mark.parametrize("kind", ["200-html", "202-empty", "405", "404-html", "302"])
def test_an_answer_that_is_not_alpines_pauses_and_delivers_nothing(
    db: Path, use_batch: bool, kind: str
) -> None:
    filled_store(db, 5)[0].close()
    with relay_for(db, _not_alpine(kind), use_batch_endpoint=use_batch) as app:
        report = app.relay.run_once()
        assert (report.delivered, report.dead, report.verdict) == (0, 0, Verdict.PAUSE)
        assert app.relay.pacing.state is RelayState.PAUSED
        assert "ALPINE_API_URL" in app.relay.pacing.reason
    rows = outbox_rows(db)
    assert not any(r["delivered_at"] or r["dead_at"] or r["attempts"] for r in rows)


def _record_outcome(store: SignalStore, signal_id: str) -> None:
    store.record_outcomes(
        [Outcome(signal_id, "AAPL", OutcomeKind.WIN, 200.0, 2.5, utc_now())], utc_now()
    )


def test_a_dead_creation_parks_its_outcome_until_retried(db: Path) -> None:
    store, signals = filled_store(db, 2)
    victim = signals[0].signal_id
    _record_outcome(store, victim)
    store.close()
    refuse_once = {"left": 1}

    def answer(item: dict[str, object]) -> int:
        if item["signal_id"] == victim and "outcome" not in item and refuse_once["left"]:
            refuse_once["left"] -= 1
            return 422
        return 201 if "outcome" not in item else 200

    with relay_for(db, ScriptedAlpine(answer)) as app:
        assert app.relay.drain(threading.Event()).stopped is None
        backlog = app.outbox.backlog(utc_now())
        assert (backlog.dead, backlog.parked, backlog.pending) == (1, 1, 1)
        assert not app.outbox.has_due(utc_now())  # parked: not due, no write lock taken
        assert app.outbox.admin().retry_dead(None, utc_now()) == 1
        assert app.relay.drain(threading.Event()).delivered == 2  # creation, then outcome
    assert all(r["delivered_at"] for r in outbox_rows(db))


def _execute(db: Path, sql: str) -> None:
    """One statement on the outbox of either store."""
    url = database_url(db)
    if url is None:
        with sqlite3.connect(db) as conn:
            conn.execute(sql)
        conn.close()
        return
    with psycopg.connect(conninfo(url)) as pg:
        pg.execute(sql.encode())


def test_a_replay_of_a_signal_whose_old_events_are_dead_is_delivered(db: Path) -> None:
    store, signals = filled_store(db, 1)
    _record_outcome(store, signals[0].signal_id)
    _execute(db, "UPDATE sync_outbox SET dead_at = '2026-01-01T00:00:00.000000Z'")
    count = enqueue(
        store, matching(store, ReplayWindow(since=utc_now().replace(year=2000))), utc_now()
    )
    store.close()
    assert (count.signals, count.outcomes) == (1, 1)
    alpine = ScriptedAlpine(lambda item: 201 if "outcome" not in item else 200)
    with relay_for(db, alpine) as app:
        assert app.relay.drain(threading.Event()).delivered == 2
    assert [p.rsplit("/", 1)[1] for p in alpine.paths] == ["signal", "outcome"]


def test_a_commit_made_during_a_window_is_claimed_right_after(db: Path) -> None:
    store, _ = filled_store(db, 3)
    from tests.kit.factories import make_signals

    fresh = make_signals(6, seed=9)[3:]
    alpine = ScriptedAlpine(always(201), delay=0.2)

    class CommitDuringPost(ScriptedAlpine):
        def _answer(self, request: object) -> object:  # type: ignore[override]
            if not committed.is_set():
                other = open_signals(db)
                other.add_many(fresh, utc_now())
                other.close()
                committed.set()
            return alpine._answer(request)  # type: ignore[arg-type]

    committed = threading.Event()
    stop = threading.Event()
    with relay_for(db, CommitDuringPost(always(201)), rescan_seconds=30.0) as app:
        runner = threading.Thread(target=app.relay.run, args=(stop,))
        started = time.monotonic()
        runner.start()
        try:
            wait_for(
                lambda: (
                    all(r["delivered_at"] for r in outbox_rows(db)) and len(outbox_rows(db)) == 6
                ),
                timeout=10,
                what="the commit made mid-window to be delivered",
            )
        finally:
            stop.set()
            runner.join(10)
    store.close()
    assert time.monotonic() - started < 5  # not the 30 s rescan


def test_a_post_slower_than_the_lease_is_never_sent_twice(db: Path) -> None:
    """Relay A's POST outlives its 1 s lease; A renews it, so relay B never takes the row."""
    filled_store(db, 2)[0].close()
    alpine = ScriptedAlpine(always(201), delay=2.5)
    stop = threading.Event()
    with (
        relay_for(db, alpine, lease_seconds=1.0, worker_id="A") as first,
        relay_for(db, alpine, lease_seconds=1.0, worker_id="B") as second,
    ):
        sending = threading.Thread(target=first.relay.run_once, args=(stop,))
        sending.start()
        wait_for(lambda: alpine.sent, timeout=5, what="A to start sending")
        claimed_by_b = 0
        while sending.is_alive():
            claimed_by_b += second.relay.run_once(stop).claimed
            time.sleep(0.05)
        sending.join()
    assert claimed_by_b == 0
    assert alpine.max_in_flight_per_event == 1
    assert all(r["delivered_at"] for r in outbox_rows(db))


@pytest.mark.parametrize("step_hours", [1, -1])
def test_a_wall_clock_step_mid_post_loses_nothing_and_sends_nothing_twice(
    db: Path, step_hours: int
) -> None:
    filled_store(db, 3)[0].close()
    alpine = ScriptedAlpine(always(201), delay=1.0)
    stop = threading.Event()
    with freeze_time(utc_now(), tick=True) as clock:
        with (
            relay_for(
                db, alpine, lease_seconds=30.0, worker_id="A", use_batch_endpoint=False
            ) as first,
            relay_for(db, alpine, lease_seconds=30.0, worker_id="B") as second,
        ):
            sending = threading.Thread(target=first.relay.run_once, args=(stop,))
            sending.start()
            wait_for(lambda: alpine.sent, timeout=5, what="A to start sending")
            from datetime import timedelta

            clock.move_to(utc_now() + timedelta(hours=step_hours))
            assert second.relay.run_once(stop).claimed == 0  # the lease holds across the step
            sending.join()
            assert second.relay.run_once(stop).claimed == 0
            backlog = second.outbox.backlog(utc_now())
    assert alpine.max_in_flight_per_event == 1 and len(alpine.sent) == 3
    assert (backlog.pending, backlog.dead) == (0, 0)
    assert all(r["delivered_at"] and r["attempts"] == 0 for r in outbox_rows(db))


def test_a_dead_relays_lease_expires_and_another_takes_over(db: Path) -> None:
    filled_store(db, 4)[0].close()
    now = utc_now()
    first = open_outbox(db)
    second = open_outbox(db)
    try:
        claim = first.claim("dead", now, 0.3, 10)
        assert len(claim.rows) == 4
        assert second.claim("alive", now, 30, 10).rows == ()
        taken = wait_for(lambda: second.claim("alive", utc_now(), 30, 10).rows, timeout=5)
        assert sorted(r.id for r in taken) == sorted(r.id for r in claim.rows)
        # The dead relay's late settle touches nothing it no longer holds.
        from argo.outbox import Release, Settlement

        assert first.settle(claim, Settlement(released=(Release(claim.rows[0].id),)), now) == 0
    finally:
        first.close()
        second.close()


def test_payload_timestamps_feed_the_freshness_histogram(db: Path) -> None:
    filled_store(db, 3)[0].close()
    with relay_for(db, ScriptedAlpine(always(201))) as app:
        app.relay.run_once()
        count = app.metrics.registry.get_sample_value("relay_signal_age_at_delivery_seconds_count")
    assert count == 3
    payload = json.loads(outbox_rows(db)[0]["payload"])
    assert payload["timestamp"].endswith("Z")


def test_a_row_failing_forever_never_delays_fresh_signals(db: Path) -> None:
    """One row answers 500 forever while fresh signals keep arriving: the fresh ones
    arrive within a second, the row is charged each time and ends a dead letter."""
    from tests.kit.factories import make_signals

    store, signals = filled_store(db, 1)
    poison = signals[0].signal_id
    fresh = make_signals(41, seed=5)[1:]
    alpine = ScriptedAlpine(poisoned(poison))
    stop = threading.Event()
    config = {"max_attempts": 4, "retry_base_seconds": 0.2, "rescan_seconds": 0.05}
    with relay_for(db, alpine, **config) as app:
        runner = threading.Thread(target=app.relay.run, args=(stop,))
        runner.start()
        try:
            for signal in fresh:
                store.add(signal, utc_now())
                time.sleep(0.05)  # a steady trickle of fresh signals, not a wait for a condition
            wait_for(
                lambda: all(r["delivered_at"] or r["dead_at"] for r in outbox_rows(db)),
                timeout=20,
                what="every row to be delivered or dead",
            )
        finally:
            stop.set()
            runner.join(10)
    store.close()
    rows = outbox_rows(db)
    dead = [r for r in rows if r["dead_at"]]
    assert [r["signal_id"] for r in dead] == [poison]
    assert dead[0]["attempts"] == 4 and "gave up after 4 attempts" in dead[0]["last_error"]
    from argo.timeutil import from_text

    latencies = [
        (from_text(r["delivered_at"]) - from_text(r["created_at"])).total_seconds()
        for r in rows
        if r["delivered_at"]
    ]
    assert len(latencies) == 40 and max(latencies) < 1.0, max(latencies)


@pytest.mark.sqlite_only
def test_the_doorbell_wakes_the_relay_before_its_next_poll(db: Path) -> None:
    """Polling once a second, the relay still delivers a fresh commit at once: the writer
    rang the doorbell beside the database."""
    from argo.outbox.doorbell import doorbell_path
    from tests.kit.factories import make_signals

    store, _ = filled_store(db, 1)
    fresh = make_signals(4, seed=3)[1:]
    stop = threading.Event()
    with relay_for(
        db, ScriptedAlpine(always(201)), idle_poll_seconds=1.0, rescan_seconds=30.0
    ) as app:
        assert doorbell_path(db).exists()
        runner = threading.Thread(target=app.relay.run, args=(stop,))
        runner.start()
        try:
            wait_for(lambda: all(r["delivered_at"] for r in outbox_rows(db)), what="the first row")
            delays = []
            for signal in fresh:
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
    store.close()
    assert not doorbell_path(db).exists()  # removed on exit
    assert max(delays) < 0.5, delays  # well inside the 1 s poll


@pytest.mark.parametrize("windows", [1, 2])
def test_a_backlog_keeps_windows_out_at_once_and_order_per_signal(
    db: Path, use_batch: bool, windows: int
) -> None:
    """With two windows out the next is POSTed while the previous is in flight; an outcome
    still starts only after its signal's creation has been answered."""
    store, signals = filled_store(db, 24)
    for signal in signals[::3]:
        _record_outcome(store, signal.signal_id)
    store.close()
    alpine = ScriptedAlpine(lambda item: 201 if "outcome" not in item else 200, delay=0.05)
    overrides = {"batch_size": 4, "windows_in_flight": windows, "posts_in_flight": 1}
    with relay_for(db, alpine, use_batch_endpoint=use_batch, **overrides) as app:
        report = app.relay.drain(threading.Event())
    assert (report.delivered, report.stopped) == (32, None)
    assert all(r["delivered_at"] for r in outbox_rows(db))
    assert alpine.max_posts_at_once == windows
    for signal in signals[::3]:
        created = alpine.timeline.index(("end", f"signal:{signal.signal_id}"))
        assert alpine.timeline.index(("start", f"outcome:{signal.signal_id}")) > created


def test_a_replayed_outcome_waits_for_its_replayed_creation(db: Path) -> None:
    """After Alpine lost a delivered signal, the replay's outcome must not overtake the
    replay's creation, although the first creation was delivered long ago."""
    store, signals = filled_store(db, 1)
    _record_outcome(store, signals[0].signal_id)
    with relay_for(db, ScriptedAlpine(lambda item: 201 if "outcome" not in item else 200)) as app:
        assert app.relay.drain(threading.Event()).delivered == 2
        count = enqueue(
            store, matching(store, ReplayWindow(since=utc_now().replace(year=2000))), utc_now()
        )
        assert (count.signals, count.outcomes) == (1, 1)
        creation = app.outbox.claim("w1", utc_now(), 60.0, 10)
        assert [r.event_type for r in creation.rows] == ["signal.created"]
        assert not app.outbox.claim("w2", utc_now(), 60.0, 10).rows  # held behind it
    store.close()
