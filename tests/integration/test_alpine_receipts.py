"""Alpine's signed receipts, in-process (create_app on a real PostgreSQL): every accepted
signal, outcome and execution is answered with a receipt that verifies with a key
from /api/v1/keys and states what Alpine holds; keys rotate and old receipts verify."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, text

from alpine.app import create_app
from alpine.feed import Feed
from alpine.receipts import PublicKey, SigningKey, moment_text, unb64, update_hash
from alpine.settings import AlpineSettings
from alpine.store import SignalStore, make_engine
from tests.kit.alpine import URL, AppTransport
from tests.support import new_api_key, signal_payload

KEY = new_api_key()
ENGINES: list[Engine] = []
APPS: list[FastAPI] = []


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while APPS:  # their sealing threads first: one may hold a pooled connection
        sealer = APPS.pop().state.sealer
        if sealer is not None:
            sealer.close()
    while ENGINES:
        ENGINES.pop().dispose()


def engine_for(url: str) -> Engine:
    ENGINES.append(make_engine(url))
    return ENGINES[-1]


def make_app(url: str, key: SigningKey | None, retired: tuple[PublicKey, ...] = ()) -> FastAPI:
    settings = AlpineSettings(
        database_url=url,
        api_keys=(KEY,),
        signing_secrets=(),
        rate_limit=0,
        receipt_key=key,
        receipt_retired_keys=retired,
    )
    APPS.append(create_app(settings, SignalStore(engine_for(url))))
    return APPS[-1]


def call(app: FastAPI, method: str, path: str, body: Any = None) -> httpx.Response:
    with httpx.Client(base_url=URL, transport=AppTransport(app)) as client:
        return client.request(method, path, json=body, headers={"X-API-Key": KEY})


def served_keys(app: FastAPI) -> dict[str, PublicKey]:
    keys = call(app, "GET", "/api/v1/keys").json()["keys"]
    return {
        k["kid"]: PublicKey(k["kid"], unb64(k["public_key"]), k["status"] == "current")
        for k in keys
    }


def verifies(receipt: dict[str, Any], keys: dict[str, PublicKey]) -> bool:
    return receipt["kid"] in keys and keys[receipt["kid"]].verify(receipt)


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.parse(SigningKey.generate("k1"), "test")


@pytest.fixture
def app(pg_url: str, key: SigningKey) -> Iterator[FastAPI]:
    yield make_app(pg_url, key)


def test_signals_outcomes_and_executions_come_with_receipts(app: FastAPI, pg_url: str) -> None:
    keys = served_keys(app)
    assert list(keys) == ["k1"] and keys["k1"].current
    payload = signal_payload(timestamp="2026-12-01T10:00:00.000001Z")
    created = call(app, "POST", "/api/v1/argo/sync/signal", payload).json()
    receipt = created["receipt"]
    assert verifies(receipt, keys)
    assert receipt["event"] == "signal.created" and receipt["sha256"] == payload["sha256"]
    assert receipt["signal_id"] == payload["signal_id"]
    assert receipt["seq"] == Feed(engine_for(pg_url)).head()
    again = call(app, "POST", "/api/v1/argo/sync/signal", payload).json()
    assert again["status"] == "duplicate" and again["receipt"]["seq"] == receipt["seq"]
    assert verifies(again["receipt"], keys)

    batch = [signal_payload(timestamp=f"2026-12-01T10:00:00.00000{n}Z") for n in (2, 3)]
    results = call(app, "POST", "/api/v1/argo/sync/signals", {"signals": batch}).json()["results"]
    assert [r["receipt"]["sha256"] for r in results] == [p["sha256"] for p in batch]
    assert all(verifies(r["receipt"], keys) for r in results)

    outcome = {
        "signal_id": payload["signal_id"],
        "outcome": "win",
        "exit_price": 180.5,
        "profit_loss_pct": 5.4,
        "closed_at": "2026-12-01T14:00:00Z",
    }
    answer = call(app, "POST", "/api/v1/argo/sync/outcome", outcome).json()
    assert answer["receipt"]["event"] == "signal.outcome" and verifies(answer["receipt"], keys)
    stored = {**outcome, "closed_at": datetime(2026, 12, 1, 14, tzinfo=UTC)}
    assert answer["receipt"]["sha256"] == update_hash("signal.outcome", stored)
    execution = {
        "signal_id": batch[0]["signal_id"],
        "order_id": "paper-1",
        "executed_at": "2026-12-01T10:00:01Z",
        "fill_price": 171.3,
    }
    answer = call(app, "POST", "/api/v1/argo/sync/execution", execution).json()
    assert answer["receipt"]["event"] == "signal.executed" and verifies(answer["receipt"], keys)


def test_a_batch_receipt_states_the_stored_position_and_time(app: FastAPI, pg_url: str) -> None:
    """Created rows' facts come from the insert itself, held ones' from a read: both are
    what feed_events holds."""
    keys = served_keys(app)
    held = signal_payload(timestamp="2026-12-01T10:00:00.000001Z")
    call(app, "POST", "/api/v1/argo/sync/signal", held)
    batch = [signal_payload(timestamp=f"2026-12-01T10:00:0{n}.5Z") for n in range(1, 5)]
    body = {"signals": [batch[0], held, *batch[1:], batch[0]]}
    results = call(app, "POST", "/api/v1/argo/sync/signals", body).json()["results"]
    assert [r["status"] for r in results] == ["created", "duplicate", *["created"] * 3, "duplicate"]
    with engine_for(pg_url).connect() as conn:
        stored = {
            signal_id: (int(seq), moment_text(at))
            for signal_id, seq, at in conn.execute(
                text(
                    "SELECT s.signal_id, f.seq, f.stored_at FROM feed_events f"
                    " JOIN signals s ON s.id = f.signal_row WHERE f.kind = 'signal'"
                )
            )
        }
    assert sorted(seq for seq, _ in stored.values()) == list(range(1, 6))
    for result in results:
        receipt = result["receipt"]
        assert verifies(receipt, keys)
        assert (receipt["seq"], receipt["stored_at"]) == stored[receipt["signal_id"]]
    assert len({r["receipt"]["sig"] for r in results}) == 1  # one signature per answer


def test_without_a_receipt_key_answers_carry_none(pg_url: str) -> None:
    app = make_app(pg_url, None)
    answer = call(app, "POST", "/api/v1/argo/sync/signal", signal_payload()).json()
    assert answer["status"] == "created" and "receipt" not in answer
    assert call(app, "GET", "/api/v1/keys").json() == {"keys": []}


def test_after_rotation_receipts_of_both_keys_verify(pg_url: str, key: SigningKey) -> None:
    before = call(make_app(pg_url, key), "POST", "/api/v1/argo/sync/signal", signal_payload())
    new_key = SigningKey.parse(SigningKey.generate("k2"), "test")
    retired = PublicKey("k1", key.public.raw, current=False)
    rotated = make_app(pg_url, new_key, (retired,))
    after = call(
        rotated,
        "POST",
        "/api/v1/argo/sync/signal",
        signal_payload(timestamp="2026-12-02T00:00:00.000001Z"),
    )
    keys = served_keys(rotated)
    assert [(k.kid, k.current) for k in keys.values()] == [("k2", True), ("k1", False)]
    assert verifies(before.json()["receipt"], keys) and before.json()["receipt"]["kid"] == "k1"
    assert verifies(after.json()["receipt"], keys) and after.json()["receipt"]["kid"] == "k2"
