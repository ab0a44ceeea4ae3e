"""The feed's order rests on the database's locks, not on clocks: whatever the
interleaving of write transactions (one held open across many later commits
included), a reader that takes everything it sees, again and again, ends with every
event exactly once, in one order, with positions 1, 2, 3, ... and no skip. Real
PostgreSQL and a real SQLite file; writers are real connections in their own threads.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select, text

from alpine.feed import Feed
from alpine.migrations import upgrade
from alpine.store import SignalStore, make_engine, row_params
from alpine.tables import feed_events, signals
from alpine.tiers import DEFAULT_TIERS
from alpine.validation import OutcomeIn, SignalIn
from tests.support import signal_payload

ELITE = DEFAULT_TIERS["elite"]
_counter = iter(range(10**9))


def new_rows(count: int) -> list[dict[str, Any]]:
    """`count` distinct, valid signal rows for a direct INSERT."""
    base = datetime(2026, 12, 1, tzinfo=UTC)
    rows = []
    for _ in range(count):
        n = next(_counter)
        moment = base + timedelta(microseconds=n)
        payload = signal_payload(timestamp=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        signal = SignalIn.model_validate(payload)
        rows.append(row_params(signal, "key_test") | {"received_at": datetime.now(UTC)})
    return rows


class Reader:
    """A subscriber that takes everything the feed shows, from where it stopped."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.position = feed.head()
        self.start = self.position
        self.seen: list[int] = []
        self.signal_ids: list[str] = []

    def read(self) -> None:
        head = self.feed.head()
        events = self.feed.window(ELITE, self.position, head, 10_000)
        # every read sees a contiguous run: nothing below it can still commit
        assert [e.seq for e in events] == list(range(self.position + 1, head + 1))
        self.seen += [e.seq for e in events]
        self.signal_ids += [e.body["signal_id"] for e in events if e.kind == "signal"]
        self.position = head


@dataclass
class Writer:
    """One connection in its own thread, running the steps it is given in order."""

    engine: Engine
    steps: queue.Queue[Callable[[Connection], None] | None] = field(default_factory=queue.Queue)
    stored: list[str] = field(default_factory=list)
    failed: list[BaseException] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # inserted, not yet committed

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while (step := self.steps.get()) is not None:
                try:
                    step(conn)
                except Exception as exc:  # SQLite: a stale snapshot may not write
                    self.failed.append(exc)
                    conn.rollback()
                    self.pending = []  # rolled back with its transaction
                finally:
                    self.steps.task_done()

    def settle(self, timeout: float = 0.2) -> bool:
        """Wait until the steps given so far have run, or `timeout` (a step may be blocked
        by another writer's lock, which is part of the schedule); True when they ran."""
        deadline = time.monotonic() + timeout
        while self.steps.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    def begin_and_read(self) -> None:
        def step(conn: Connection) -> None:
            if not conn.in_transaction():
                conn.begin()
            conn.execute(select(signals.c.id).limit(1))

        self.steps.put(step)

    def insert(self, count: int) -> None:
        rows = new_rows(count)

        def step(conn: Connection) -> None:
            if not conn.in_transaction():
                conn.begin()
            conn.execute(signals.insert(), rows)
            self.pending = [*self.pending, *(r["signal_id"] for r in rows)]

        self.steps.put(step)

    def commit(self) -> None:
        def step(conn: Connection) -> None:
            if conn.in_transaction():
                conn.commit()
                self.stored += self.pending
            self.pending = []

        self.steps.put(step)

    def rollback(self) -> None:
        def step(conn: Connection) -> None:
            if conn.in_transaction():
                conn.rollback()
            self.pending = []

        self.steps.put(step)

    def close(self) -> None:
        self.steps.put(None)
        self.thread.join(timeout=60)
        assert not self.thread.is_alive()


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        url = request.getfixturevalue("module_pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'alpine.db'}"
    made = make_engine(url)
    upgrade(made)
    yield made
    made.dispose()


# A schedule: (writer, action) pairs; a writer's actions run in order on its connection.
ACTIONS = st.sampled_from(["begin_and_read", "insert", "insert_batch", "commit", "rollback"])
SCHEDULES = st.lists(st.tuples(st.integers(0, 2), ACTIONS), min_size=1, max_size=25)


def run_schedule(engine: Engine, schedule: list[tuple[int, str]]) -> None:
    feed = Feed(engine)
    reader = Reader(feed)
    writers = [Writer(engine) for _ in range(3)]
    try:
        for index, action in schedule:
            writer = writers[index]
            if action == "begin_and_read":
                writer.begin_and_read()
            elif action == "insert":
                writer.insert(1)
            elif action == "insert_batch":
                writer.insert(3)
            elif action == "rollback":
                writer.rollback()
            else:
                writer.commit()
            writer.settle()  # ran, or blocked by another writer's lock
            reader.read()  # the reader never waits for a writer
        for writer in writers:
            writer.commit()
        for writer in writers:
            writer.close()
        reader.read()
    finally:
        for writer in writers:
            if writer.thread.is_alive():
                writer.close()
    stored = [signal_id for w in writers for signal_id in w.stored]
    head = feed.head()
    assert reader.seen == list(range(reader.start + 1, head + 1))  # once each, in order
    assert sorted(reader.signal_ids) == sorted(stored)  # nothing rolled back shows
    with engine.connect() as conn:
        ordered = conn.execute(
            select(signals.c.signal_id)
            .select_from(feed_events.join(signals, signals.c.id == feed_events.c.signal_row))
            .where(feed_events.c.seq > reader.start)
            .order_by(feed_events.c.seq)
        ).scalars()
        assert list(ordered) == reader.signal_ids  # the same order for every reader


# Schedules every run tries, whatever hypothesis draws: a read transaction held open
# across later commits that then writes; writers blocked behind another's uncommitted
# insert; a blocking insert rolled back (its position taken by the next writer, no gap).
HELD = [(0, "begin_and_read"), (1, "insert"), (1, "commit"), (2, "insert_batch")]
HELD += [(2, "commit"), (0, "insert"), (0, "commit"), (1, "insert")]
BLOCKED = [(0, "insert"), (1, "insert"), (2, "insert_batch"), (1, "commit"), (0, "commit")]
ROLLED_BACK = [(0, "begin_and_read"), (0, "insert_batch"), (1, "insert"), (2, "insert")]
ROLLED_BACK += [(0, "rollback"), (1, "commit"), (0, "insert"), (2, "rollback"), (0, "commit")]
_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@settings(_SETTINGS, max_examples=8)
@given(schedule=SCHEDULES)
@example(schedule=HELD)
@example(schedule=BLOCKED)
@example(schedule=ROLLED_BACK)
def test_any_interleaving_gives_one_order_without_skips(
    engine: Engine, schedule: list[tuple[int, str]]
) -> None:
    run_schedule(engine, schedule)


@pytest.mark.stress
@settings(_SETTINGS, max_examples=25)
@given(schedule=SCHEDULES)
def test_any_interleaving_gives_one_order_without_skips_at_full_count(
    engine: Engine, schedule: list[tuple[int, str]]
) -> None:
    """The same with the full count of drawn schedules (`pytest -m stress`)."""
    run_schedule(engine, schedule)


def test_a_transaction_held_open_across_later_commits_delays_nothing_it_does_not_hold(
    engine: Engine,
) -> None:
    """An outcome's transaction holds its signal's row while 20 signals commit; its event
    then takes the next position, after them, and the reader skips nothing."""
    store = SignalStore(engine)
    first = SignalIn.model_validate(signal_payload(timestamp="2026-11-30T00:00:00.000001Z"))
    store.insert(first, "key_test")
    reader = Reader(Feed(engine))
    holder = Writer(engine)
    try:
        holder.begin_and_read()
        holder.steps.join()
        later = new_rows(20)
        with engine.begin() as conn:
            conn.execute(signals.insert(), later[:10])
        with engine.begin() as conn:
            conn.execute(signals.insert(), later[10:])
        reader.read()
        assert len(reader.seen) == 20

        def record_outcome(conn: Connection) -> None:
            conn.execute(
                signals.update()
                .where(signals.c.signal_id == first.signal_id)
                .values(
                    outcome="win", exit_price=180.5, profit_loss_pct=5.4, closed_at=first.moment
                )
            )

        holder.steps.put(record_outcome)
        holder.commit()
        holder.steps.join()
        assert not holder.failed, holder.failed
        reader.read()
    finally:
        holder.close()
    assert reader.seen == list(range(reader.start + 1, reader.start + 22))
    last = Feed(engine).window(ELITE, reader.start + 20, reader.start + 21, 10)
    assert [(e.kind, e.body["signal_id"]) for e in last] == [("outcome", first.signal_id)]


def test_a_write_held_open_holds_the_feed_back_and_is_never_skipped(engine: Engine) -> None:
    """A transaction that has written (and so holds the next position) and is held open:
    the reader sees nothing past the last commit; a second writer waits; at commit both
    appear, in commit order, and the reader continues with no skip."""
    feed = Feed(engine)
    reader = Reader(feed)
    held, waiting = Writer(engine), Writer(engine)
    try:
        held.insert(2)
        held.steps.join()
        waiting.insert(1)
        waiting.commit()
        reader.read()
        assert reader.seen == []  # neither is visible; nothing below them could be lost
        held.commit()
        held.steps.join()
        waiting.steps.join()
        reader.read()
    finally:
        held.close()
        waiting.close()
    assert not held.failed and not waiting.failed
    assert reader.signal_ids == held.stored + waiting.stored
    assert reader.seen == list(range(reader.start + 1, reader.start + 4))


def test_outcomes_and_executions_are_events_of_their_own(engine: Engine) -> None:
    store = SignalStore(engine)
    signal = SignalIn.model_validate(signal_payload(timestamp="2026-11-30T00:00:00.000002Z"))
    feed = Feed(engine)
    start = feed.head()
    store.insert(signal, "key_test")
    outcome = OutcomeIn.model_validate(
        {
            "signal_id": signal.signal_id,
            "outcome": "win",
            "exit_price": 180.5,
            "profit_loss_pct": 5.4,
            "closed_at": "2026-12-01T01:00:00Z",
        }
    )
    store.apply_outcome(outcome)
    store.apply_outcome(outcome)  # the same again: no second event
    events = feed.window(ELITE, start, feed.head(), 100)
    mine = [(e.kind, e.body) for e in events if e.body["signal_id"] == signal.signal_id]
    assert [kind for kind, _ in mine] == ["signal", "outcome"]
    assert mine[1][1]["outcome"] == "win" and "symbol" not in mine[1][1]
    pro = feed.window(DEFAULT_TIERS["pro"], start, feed.head(), 100)
    assert all(e.kind == "signal" for e in pro)  # pro has no outcome field
    with engine.connect() as conn:
        assert conn.execute(text("SELECT seq FROM feed_head")).scalar_one() == feed.head()
