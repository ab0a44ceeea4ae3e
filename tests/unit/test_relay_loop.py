"""The relay's decisions per answer, on a real SQLite file with Alpine scripted by MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from relay.deliver import Deliverer
from relay.loop import Halt, Relay, RelaySettings
from relay.metrics import RelayMetrics
from relay.retry import RetryPolicy
from relay.store import OutboxStore
from tests.factories import add_outcome_event, filled_store

Handler = Callable[[httpx.Request], httpx.Response]
ItemAnswer = Callable[[dict[str, Any]], int]
_BATCH_STATUS = {201: "created", 200: "duplicate", 409: "conflict", 400: "invalid", 422: "invalid"}


def scripted_alpine(answer: ItemAnswer, seen: list[str] | None = None) -> Handler:
    """Alpine as a function of each signal: single POSTs get the status `answer` gives;
    a batch fails as a whole on a 5xx/401/403/429 item, else answers per item."""

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if seen is not None:
            seen.append(request.url.path)
        if request.url.path.endswith("/signals"):
            statuses = [answer(item) for item in body["signals"]]
            fatal = [s for s in statuses if s >= 500 or s in (401, 403, 429)]
            if fatal:
                return _answer(fatal[0])
            results = [{"status": _BATCH_STATUS[s], "error": "x"} for s in statuses]
            return httpx.Response(200, json={"results": results})
        return _answer(answer(body))

    return handler


def _answer(status: int) -> httpx.Response:
    headers = {"Retry-After": "7"} if status == 429 else None
    name = _BATCH_STATUS.get(status, "x")
    body = {"status": name, "detail": f"scripted {status} {name}"}
    return httpx.Response(status, json=body, headers=headers)


def always(status: int) -> ItemAnswer:
    return lambda item: status


def poisoned(signal_id: str) -> ItemAnswer:
    """500 for one signal, 201 for every other."""
    return lambda item: 500 if item["signal_id"] == signal_id else 201


@pytest.fixture(params=[True, False], ids=["batch", "single"])
def use_batch(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "signals.db"


@pytest.fixture
def outbox(db: Path) -> Iterator[OutboxStore]:
    store = OutboxStore.open(db)
    yield store
    store.close()


def make_relay(
    outbox: OutboxStore, handler: Handler, use_batch: bool = True, posts_in_flight: int = 8
) -> tuple[Relay, RelayMetrics]:
    metrics = RelayMetrics()
    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://alpine.test")
    deliverer = Deliverer(client, api_key="k" * 20, metrics=metrics, max_tries=1)
    relay = Relay(
        outbox,
        deliverer,
        RetryPolicy(base_seconds=1.0, max_attempts=3),
        metrics,
        RelaySettings(
            worker_id="w1",
            batch_size=50,
            use_batch_endpoint=use_batch,
            posts_in_flight=posts_in_flight,
        ),
        jitter=lambda ceiling: ceiling,
    )
    return relay, metrics


def rows(db: Path) -> list[dict[str, object]]:
    store = OutboxStore.open(db)
    try:
        cursor = store._conn.execute("SELECT * FROM sync_outbox ORDER BY id")
        return [dict(r) for r in cursor]
    finally:
        store.close()


def test_delivers_everything_and_marks_it(db: Path, outbox: OutboxStore, use_batch: bool) -> None:
    filled_store(db, 10)
    paths: list[str] = []
    relay, _ = make_relay(outbox, scripted_alpine(always(201), paths), use_batch)
    result = relay.run_once()
    assert len(paths) == (1 if use_batch else 10)
    assert (result.claimed, result.delivered, result.halt) == (10, 10, None)
    assert all(r["delivered_at"] and r["claimed_by"] is None for r in rows(db))
    assert relay.run_once().claimed == 0


def test_outage_charges_no_attempts(db: Path, outbox: OutboxStore, use_batch: bool) -> None:
    filled_store(db, 10)
    relay, _ = make_relay(outbox, scripted_alpine(always(503)), use_batch)
    for _ in range(5):
        relay._resume_at = 0  # skip the global wait between probes
        assert relay.run_once().halt is Halt.OUTAGE
    state = rows(db)
    assert all(r["attempts"] == 0 and r["dead_at"] is None for r in state)
    assert all(r["claimed_by"] is None for r in state)
    assert "503" in str(state[0]["last_error"])
    assert relay.resume_in > 0


def test_a_poison_row_is_charged_and_does_not_block_the_rest(
    db: Path, outbox: OutboxStore, use_batch: bool
) -> None:
    _, signals = filled_store(db, 6)
    poison = signals[0].signal_id
    relay, _ = make_relay(outbox, scripted_alpine(poisoned(poison)), use_batch)
    result = relay.run_once()
    assert (result.delivered, result.retried, result.halt) == (5, 1, None)
    first = rows(db)[0]
    assert first["attempts"] == 1 and first["delivered_at"] is None and first["dead_at"] is None


def test_conflict_is_a_dead_letter_at_once(db: Path, outbox: OutboxStore, use_batch: bool) -> None:
    filled_store(db, 3)
    relay, _ = make_relay(outbox, scripted_alpine(always(409)), use_batch)
    result = relay.run_once()
    assert result.dead == 3
    assert all(r["dead_at"] and "conflict" in str(r["last_error"]).lower() for r in rows(db))


def test_unauthorized_pauses_without_spending_attempts(
    db: Path, outbox: OutboxStore, use_batch: bool
) -> None:
    filled_store(db, 4)
    relay, metrics = make_relay(outbox, scripted_alpine(always(401)), use_batch)
    result = relay.run_once()
    assert result.halt is Halt.PAUSED and result.released == 4
    assert all(r["attempts"] == 0 and r["claimed_by"] is None for r in rows(db))
    assert metrics.registry.get_sample_value("relay_paused") == 1.0
    assert relay.resume_in > 1


def test_rate_limit_honours_retry_after(db: Path, outbox: OutboxStore, use_batch: bool) -> None:
    filled_store(db, 4)
    relay, _ = make_relay(outbox, scripted_alpine(always(429)), use_batch)
    result = relay.run_once()
    assert result.halt is Halt.RATE_LIMITED and result.released == 4
    assert 6 < relay.resume_in <= 7
    assert all(r["attempts"] == 0 for r in rows(db))


def test_exhausted_rows_become_dead_letters(db: Path, outbox: OutboxStore, use_batch: bool) -> None:
    _, signals = filled_store(db, 2)
    poison = signals[0].signal_id
    outbox._conn.execute("UPDATE sync_outbox SET attempts = 2 WHERE signal_id = ?", (poison,))
    relay, _ = make_relay(outbox, scripted_alpine(poisoned(poison)), use_batch)
    assert relay.run_once().dead == 1
    assert "gave up after 3 attempts" in str(rows(db)[0]["last_error"])


def test_leases_keep_two_relays_apart_and_expire(db: Path, outbox: OutboxStore) -> None:
    filled_store(db, 10)
    other = OutboxStore.open(db)
    try:
        from argo.timeutil import utc_now

        now = utc_now()
        first = outbox.claim("w1", now, timedelta(seconds=30), 6)
        second = other.claim("w2", now, timedelta(seconds=30), 6)
        assert len(first) == 6 and len(second) == 4
        assert not {r.id for r in first} & {r.id for r in second}
        assert other.claim("w2", now + timedelta(seconds=29), timedelta(seconds=30), 10) == []
        taken_over = other.claim("w2", now + timedelta(seconds=31), timedelta(seconds=30), 10)
        assert sorted(r.id for r in taken_over) == sorted(r.id for r in first + second)
    finally:
        other.close()


def test_outcome_waits_for_its_creation_event(db: Path, outbox: OutboxStore) -> None:
    store, signals = filled_store(db, 1)
    add_outcome_event(store, signals[0].signal_id)
    from argo.timeutil import utc_now

    claimed = outbox.claim("w1", utc_now(), timedelta(seconds=30), 10)
    assert [r.event_type for r in claimed] == ["signal.created"]
    relay, _ = make_relay(outbox, scripted_alpine(always(200)))
    outbox._conn.execute("UPDATE sync_outbox SET claimed_by = NULL, claimed_until = NULL")
    assert relay.run_once().delivered == 1  # creation only
    assert relay.run_once().delivered == 1  # then the outcome


def test_refused_connections_are_never_charged_even_next_to_successes(
    db: Path, outbox: OutboxStore
) -> None:
    """Alpine coming back mid-window: refused then accepted. A refusal is never the row's fault."""
    filled_store(db, 6)
    calls = {"n": 0}

    def coming_back(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={"status": "created"})

    relay, _ = make_relay(outbox, coming_back, use_batch=False, posts_in_flight=1)
    result = relay.run_once()
    assert (result.delivered, result.released, result.retried) == (4, 2, 0)
    assert all(r["attempts"] == 0 for r in rows(db))
    assert relay.run_once().delivered == 2
