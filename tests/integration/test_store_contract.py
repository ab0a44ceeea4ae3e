"""One contract, both databases: the signal store and the outbox behind their faces
(`argo.signals.port.SignalStore`, `argo.outbox.port.OutboxStore` and `OutboxAdmin`), run
against a real SQLite file and a real PostgreSQL database alike. Nothing here names a
dialect: whatever passes on one passes on the other."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from argo.outbox import (
    Attempt,
    AttemptFate,
    Charge,
    DeadLetter,
    EventType,
    OutboxStore,
    Receipt,
    Release,
    Settlement,
    WorkerState,
    created_event,
    open_outbox,
)
from argo.signal import Outcome, OutcomeKind, Signal
from argo.signals import SignalStore, open_signals
from argo.timeutil import utc_now
from argo.trades import Fill
from tests.kit.factories import make_signals
from tests.kit.relay import STORES, HorizonWaiting, outbox_location

LEASE = 30.0


@pytest.fixture(params=STORES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    with outbox_location(request.param, tmp_path) as location:
        yield location


@pytest.fixture
def signals(db: Path) -> Iterator[SignalStore]:
    store = open_signals(db)
    yield cast(SignalStore, HorizonWaiting(store, db))
    store.close()


@pytest.fixture
def outbox(db: Path, signals: SignalStore) -> Iterator[OutboxStore]:
    store = open_outbox(db)
    yield store
    store.close()


def _outcome(signal: Signal, kind: OutcomeKind = OutcomeKind.WIN) -> Outcome:
    return Outcome(signal.signal_id, signal.symbol, kind, signal.target_price, 1.5, utc_now())


def test_a_signal_commits_once_with_its_creation_event(signals: SignalStore) -> None:
    batch = make_signals(4)
    assert signals.add_many(batch, utc_now()) == batch
    assert signals.add_many(batch, utc_now()) == []
    assert not signals.add(batch[0], utc_now())
    pending, oldest = signals.outbox_backlog()
    assert pending == 4 and oldest is not None
    assert {s.signal.signal_id for s in signals.signals()} == {s.signal_id for s in batch}
    assert signals.signal_ids() == {s.signal_id for s in batch}
    assert len(signals.open_signals()) == 4


def test_reads_filter_by_window_symbol_and_ids(signals: SignalStore) -> None:
    batch = make_signals(6)
    signals.add_many(batch, utc_now())
    symbol = batch[0].symbol
    assert all(s.signal.symbol == symbol for s in signals.signals(symbol=symbol))
    assert len(signals.signals(limit=2)) == 2
    picked = [batch[1].signal_id, batch[4].signal_id, "missing"]
    assert {s.signal.signal_id for s in signals.signals_with_ids(picked)} == set(picked[:2])
    committed = signals.committed_ids([batch[0].signal_id])
    assert committed[batch[0].signal_id].sha256 == batch[0].sha256


def test_an_outcome_and_an_execution_apply_once_each_with_their_event(
    signals: SignalStore,
) -> None:
    first, second = make_signals(2)
    now = utc_now()
    signals.add_many([first, second], now)
    outcome = _outcome(first)
    assert signals.record_outcomes([outcome], now) == [outcome]
    assert signals.record_outcomes([outcome], now) == []
    fill = Fill(second.signal_id, "order-1", second.symbol, second.action, 101.0, now)
    assert signals.record_executions([fill], now) == [fill]
    assert signals.record_executions([fill], now) == []
    assert [c.signal_id for c in signals.closed_of([first.signal_id])] == [first.signal_id]
    assert [f.order_id for f in signals.fills_of([second.signal_id])] == ["order-1"]
    assert [t.signal_id for t in signals.trades()] == [second.signal_id]
    assert [s.signal.signal_id for s in signals.open_signals()] == [second.signal_id]
    recorded = signals.recorded(first.signal_id)
    assert recorded is not None and recorded.outcome == "win"
    assert signals.outbox_backlog()[0] == 4  # 2 creations, 1 outcome, 1 execution


def test_a_claim_leases_due_rows_oldest_first_under_one_token(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    signals.add_many(make_signals(5), utc_now())
    now = utc_now()
    assert outbox.has_due(now)
    claim = outbox.claim("w1", now, LEASE, limit=3)
    assert [r.event_type for r in claim.rows] == [EventType.SIGNAL_CREATED] * 3
    assert [r.id for r in claim.rows] == sorted(r.id for r in claim.rows)
    rest = outbox.claim("w2", now, LEASE, limit=10)
    assert len(rest.rows) == 2 and not {r.id for r in rest.rows} & {r.id for r in claim.rows}
    assert outbox.claim("w3", now, LEASE, limit=10).rows == ()
    assert not outbox.has_due(now)
    assert outbox.renew(claim, now, LEASE) == frozenset(r.id for r in claim.rows)
    assert outbox.backlog(now).in_flight == 5


def test_settle_writes_every_fate_and_touches_only_what_the_token_holds(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    signals.add_many(make_signals(4), utc_now())
    now = utc_now()
    claim = outbox.claim("w1", now, LEASE, limit=4)
    a, b, c, d = (r.id for r in claim.rows)
    settlement = Settlement(
        delivered=(a,),
        charged=(Charge(b, 1, now + timedelta(hours=1), now, "HTTP 500"),),
        dead=(DeadLetter(c, 3, "HTTP 422"),),
        released=(Release(d, "outage"),),
    )
    assert outbox.settle(claim, settlement, now) == 4
    assert outbox.settle(claim, settlement, now) == 1  # only "delivered" ignores the token
    assert outbox.renew(claim, now, LEASE) == frozenset()
    backlog = outbox.backlog(now)
    assert (backlog.pending, backlog.in_flight, backlog.dead) == (2, 0, 1)
    assert backlog.oldest_pending_created_at is not None
    status = outbox.status(now)
    assert status.delivered == 1 and status.last_delivered_at is not None
    assert status.last_error in {"HTTP 422", "outage"}
    assert status.last_freshness_seconds is not None
    again = outbox.claim("w2", now, LEASE, limit=10)
    assert [r.id for r in again.rows] == [d]  # the charged row waits an hour
    assert again.rows[0].attempts == 0


def test_settle_keeps_the_receipts_of_delivered_rows_and_prune_leaves_them(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    signals.add_many(make_signals(3), utc_now())
    now = utc_now()
    claim = outbox.claim("w1", now, LEASE, limit=3)
    a, b, c = claim.rows
    receipts = (
        Receipt(a.id, json.dumps({"kid": "k1", "seq": 1, "sha256": "aa"}), True),
        Receipt(b.id, json.dumps({"kid": "k1", "seq": 2, "sha256": "bb"}), False),
    )
    settlement = Settlement(delivered=(a.id, b.id, c.id), receipts=receipts)
    assert outbox.settle(claim, settlement, now) == 3
    again = Settlement(delivered=(a.id,), receipts=(Receipt(a.id, '{"kid":"other"}', True),))
    outbox.settle(claim, again, now)  # a second settle keeps the first receipt
    book = outbox.receipts()
    [first] = book.find(a.event_id)
    assert (first.signal_id, first.event_type, first.verified) == (
        a.signal_id,
        EventType.SIGNAL_CREATED,
        True,
    )
    assert first.receipt == {"kid": "k1", "seq": 1, "sha256": "aa"}
    assert [k.event_id for k in book.find(b.signal_id)] == [b.event_id]
    assert not book.find(b.signal_id)[0].verified
    assert book.find(c.event_id) == []  # delivered without a receipt
    window = book.between(now - timedelta(minutes=1), now + timedelta(minutes=1))
    assert sorted(k.event_id for k in window) == sorted([a.event_id, b.event_id])
    assert {k.event_id for k in book.for_signals([a.signal_id, c.signal_id])} == {a.event_id}
    assert outbox.admin().prune_delivered(now + timedelta(days=1)) == 3
    assert len(book.for_signals([a.signal_id, b.signal_id])) == 2  # kept for disputes


def test_an_outcome_waits_for_its_creation_and_is_parked_behind_a_dead_one(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    (signal,) = make_signals(1)
    now = utc_now()
    signals.add_many([signal], now)
    signals.record_outcomes([_outcome(signal)], now)
    claim = outbox.claim("w1", now, LEASE, limit=10)
    assert [r.event_type for r in claim.rows] == [EventType.SIGNAL_CREATED]
    outbox.settle(claim, Settlement(dead=(DeadLetter(claim.rows[0].id, 1, "gone"),)), now)
    assert outbox.backlog(now).parked == 1
    admin = outbox.admin()
    (dead,) = admin.dead_letters()
    assert admin.discard_dead([dead.event_id], now) == 1
    assert outbox.backlog(now).pending == 0  # the parked outcome went with its creation


def test_dead_letters_retry_and_leases_of_a_dead_worker_come_back(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    signals.add_many(make_signals(3), utc_now())
    now = utc_now()
    admin = outbox.admin()
    claim = outbox.claim("w1", now, LEASE, limit=2)
    outbox.settle(claim, Settlement(dead=(DeadLetter(claim.rows[0].id, 5, "HTTP 400"),)), now)
    assert [r.last_error for r in admin.dead_letters(limit=10)] == ["HTTP 400"]
    assert admin.release_leases_of("w1") == 1
    assert admin.retry_dead([admin.dead_letters()[0].event_id], now) == 1
    assert admin.dead_letters() == []
    assert len(outbox.claim("w2", now, LEASE, limit=10).rows) == 3
    assert admin.retry_dead(None, now) == 0


def test_prune_deletes_old_delivered_rows_in_batches(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    signals.add_many(make_signals(5), utc_now())
    now = utc_now()
    claim = outbox.claim("w1", now, LEASE, limit=10)
    outbox.settle(claim, Settlement(delivered=tuple(r.id for r in claim.rows)), now)
    admin = outbox.admin()
    later = now + timedelta(days=8)
    assert admin.prunable(later) == 5 and admin.prunable(now - timedelta(days=1)) == 0
    batches: list[int] = []
    assert admin.prune_delivered(later, batch_size=2, progress=batches.append) == 5
    assert batches == [2, 2, 1]
    assert admin.prunable(later) == 0


def _deliver_all(outbox: OutboxStore, now: datetime) -> list[str]:
    """Claim and deliver everything due; the event types delivered."""
    claim = outbox.claim("w1", now, LEASE, limit=100)
    outbox.settle(claim, Settlement(delivered=tuple(r.id for r in claim.rows)), now)
    return [r.event_type for r in claim.rows]


def test_an_outcome_and_an_execution_are_delivered_after_their_creation_was_pruned(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    first, second = make_signals(2)
    now = utc_now()
    signals.add_many([first, second], now)
    assert _deliver_all(outbox, now) == [EventType.SIGNAL_CREATED] * 2
    later = now + timedelta(days=8)
    assert outbox.admin().prune_delivered(later) == 2
    signals.record_outcomes([_outcome(first)], later)
    fill = Fill(second.signal_id, "order-1", second.symbol, second.action, 101.0, later)
    signals.record_executions([fill], later)
    backlog = outbox.backlog(later)
    assert (backlog.pending, backlog.parked) == (2, 0)
    assert sorted(_deliver_all(outbox, later)) == [
        EventType.SIGNAL_EXECUTED,
        EventType.SIGNAL_OUTCOME,
    ]
    assert outbox.backlog(later).pending == 0


def test_prune_keeps_what_orders_a_replayed_signal_s_later_events(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    (signal,) = make_signals(1)
    now = utc_now()
    signals.add_many([signal], now)
    claim = outbox.claim("w1", now, LEASE, limit=10)
    outbox.settle(claim, Settlement(dead=(DeadLetter(claim.rows[0].id, 1, "gone"),)), now)
    signals.append_events([created_event(signal, now)])  # a replay of the dead creation
    assert _deliver_all(outbox, now) == [EventType.SIGNAL_CREATED]
    later = now + timedelta(days=8)
    outbox.admin().prune_delivered(later)
    signals.record_outcomes([_outcome(signal)], later)
    assert _deliver_all(outbox, later) == [EventType.SIGNAL_OUTCOME]


def test_an_outcome_never_overtakes_a_pending_creation_whatever_was_pruned(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    (signal,) = make_signals(1)
    now = utc_now()
    signals.add_many([signal], now)
    signals.record_outcomes([_outcome(signal)], now)
    assert outbox.claim("w1", now, LEASE, limit=10).rows[0].event_type == EventType.SIGNAL_CREATED
    later = now + timedelta(days=8)
    outbox.admin().prune_delivered(later)
    assert not outbox.has_due(now)  # the creation is leased, the outcome waits for it
    assert outbox.claim("w2", now, LEASE, limit=10).rows == ()


def test_workers_and_slots(db: Path, signals: SignalStore, outbox: OutboxStore) -> None:
    now = utc_now()
    admin = outbox.admin()
    admin.record_worker("host:relay-0", WorkerState.RUNNING, now)
    admin.record_worker("host:relay-0", WorkerState.PAUSED, now, "outage")
    (worker,) = admin.workers(now)
    assert (worker.worker_id, worker.state, worker.detail) == (
        "host:relay-0",
        WorkerState.PAUSED,
        "outage",
    )
    assert worker.host  # the id's host on SQLite; the recorded host name on PostgreSQL
    assert worker.alive(now)
    other = open_outbox(db)
    try:
        first = outbox.take_worker_slot(host="h")
        second = other.take_worker_slot(host="h")
        assert {first, second} == {"h:relay-0", "h:relay-1"}
    finally:
        other.close()
    assert isinstance(outbox.data_version(), int)


_POSTS = itertools.count(1)


def _attempt(row_id: int, at: datetime, fate: AttemptFate, status: int | None = 200) -> Attempt:
    error = None if status else "ConnectError"
    return Attempt(row_id, next(_POSTS), at, 0.012, status, error, f"answer {status}", "", fate)


def test_the_attempt_log_keeps_every_post_and_its_fate_in_order(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    (signal,) = make_signals(1)
    signals.add_many([signal], utc_now())
    now = utc_now()
    first = outbox.claim("w1", now, LEASE, limit=10)
    (row,) = first.rows
    assert row.tried == 0
    [in_flight] = outbox.attempts().find(row.event_id)
    assert in_flight.fate is AttemptFate.IN_FLIGHT and in_flight.window == first.token
    tries = (
        _attempt(row.id, now, AttemptFate.RETRIED_AT_ONCE, None),
        _attempt(row.id, now, AttemptFate.RELEASED, None),
    )
    outbox.settle(first, Settlement(released=(Release(row.id, "down"),), attempts=tries), now)
    second = outbox.claim("w1", now, LEASE, limit=10)
    assert second.rows[0].tried == 2
    charge = Charge(row.id, 1, now, now, "HTTP 500")
    failed = (_attempt(row.id, now, AttemptFate.RETRY_LATER, 500),)
    outbox.settle(second, Settlement(charged=(charge,), attempts=failed), now)
    third = outbox.claim("w2", now + timedelta(seconds=1), LEASE, limit=10)
    stored = (_attempt(row.id, now, AttemptFate.DELIVERED, 200),)
    outbox.settle(third, Settlement(delivered=(row.id,), attempts=stored), now)
    log = outbox.attempts().find(signal.signal_id)
    assert [(a.number, a.status, a.error, a.fate) for a in log] == [
        (1, None, "ConnectError", AttemptFate.RETRIED_AT_ONCE),
        (2, None, "ConnectError", AttemptFate.RELEASED),
        (3, 500, None, AttemptFate.RETRY_LATER),
        (4, 200, None, AttemptFate.DELIVERED),
    ]
    assert [a.relay for a in log] == ["w1", "w1", "w1", "w2"]
    assert log[3].window == third.token and log[3].answer == "answer 200"
    assert outbox.attempts().counts([row.id, 999_999]) == {row.id: 4}


def test_a_window_never_settled_reads_as_unknown_once_its_row_moves_on(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    signals.add_many(make_signals(1), utc_now())
    now = utc_now()
    killed = outbox.claim("w1", now, -1.0, limit=10)  # its lease has already run out
    (row,) = killed.rows
    [held] = outbox.attempts().find(row.event_id)
    assert held.fate is AttemptFate.IN_FLIGHT
    again = outbox.claim("w2", now + timedelta(seconds=1), LEASE, limit=10)
    assert [r.id for r in again.rows] == [row.id] and again.rows[0].tried == 0
    unknown, in_flight = outbox.attempts().find(row.event_id)
    assert (unknown.fate, unknown.relay) == (AttemptFate.UNKNOWN, "w1")
    assert (in_flight.fate, in_flight.relay) == (AttemptFate.IN_FLIGHT, "w2")


def test_attempts_go_with_their_row_and_none_are_kept_when_the_log_is_off(
    signals: SignalStore, outbox: OutboxStore
) -> None:
    signals.add_many(make_signals(2), utc_now())
    now = utc_now()
    logged = outbox.claim("w1", now, LEASE, limit=1)
    delivered = (_attempt(logged.rows[0].id, now, AttemptFate.DELIVERED),)
    outbox.settle(logged, Settlement(delivered=(logged.rows[0].id,), attempts=delivered), now)
    quiet = outbox.claim("w1", now, LEASE, limit=1, log_attempts=False)
    outbox.settle(quiet, Settlement(delivered=(quiet.rows[0].id,)), now)
    assert outbox.attempts().find(quiet.rows[0].event_id) == []
    assert len(outbox.attempts().find(logged.rows[0].event_id)) == 1
    assert outbox.admin().prune_delivered(now + timedelta(days=8)) == 2
    assert outbox.attempts().counts([logged.rows[0].id]) == {}
