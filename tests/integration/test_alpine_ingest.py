"""Alpine's ingest contract on a real PostgreSQL: its HTTP behaviour, in-process
(`create_app` behind an in-process client; tests.kit.alpine)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook

from tests.kit.alpine import Alpine, in_process_alpine
from tests.kit.pgdb import count_signals
from tests.support import new_api_key, new_signing_secret, signal_payload

PATH = "/api/v1/argo/sync/signal"
ALIAS = "/api/v1/external-signals/sync/signal"


@pytest.fixture
def alpine(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Alpine]:
    server = in_process_alpine(
        pg_url,
        monkeypatch,
        api_keys=[new_api_key(), new_api_key()],
        signing_secret=new_signing_secret(),
    )
    yield server
    server.close()


def post(
    server: Alpine,
    payload: dict[str, Any] | bytes,
    *,
    path: str = PATH,
    key: str | None = None,
    sign: bool = True,
    sign_at: datetime | None = None,
) -> httpx.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "X-API-Key": key if key is not None else server.api_key,
        "Content-Type": "application/json",
    }
    if sign and server.signing_secret:
        at = sign_at or datetime.now(UTC)
        headers["webhook-id"] = "evt_test"
        headers["webhook-timestamp"] = str(int(at.timestamp()))
        headers["webhook-signature"] = Webhook(server.signing_secret).sign(
            "evt_test", at, body.decode()
        )
    with server.client() as client:
        return client.post(path, content=body, headers=headers)


def test_created_then_duplicate_then_conflict(alpine: Alpine, pg_url: str) -> None:
    payload = signal_payload()
    first = post(alpine, payload)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "created"
    assert first.json()["argo_signal_id"] == payload["signal_id"]
    again = post(alpine, payload, path=ALIAS)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["alpine_signal_id"] == first.json()["alpine_signal_id"]

    # Same signal_id, other content (and a correct hash for that content): conflict.
    other = dict(payload, confidence=94.0)
    from alpine.canonical import verification_hash

    other["sha256"] = verification_hash(other)
    conflict = post(alpine, other)
    assert conflict.status_code == 409 and "signal_id" in conflict.json()["detail"]
    assert count_signals(pg_url) == 1


def test_rotation_both_keys_work_and_the_key_id_is_recorded(alpine: Alpine, pg_url: str) -> None:
    old_key, new_key = alpine.api_keys
    assert (
        post(alpine, signal_payload(timestamp="2026-11-22T10:00:01Z"), key=old_key).status_code
        == 201
    )
    assert (
        post(alpine, signal_payload(timestamp="2026-11-22T10:00:02Z"), key=new_key).status_code
        == 201
    )
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        stored = [r[0] for r in conn.execute("SELECT api_key_id FROM signals ORDER BY id")]
    assert len(set(stored)) == 2
    assert all(k.startswith("key_") and old_key not in k and new_key not in k for k in stored)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("no key", 401),
        ("wrong key", 401),
        ("non-ascii key", 401),
        ("no signature", 401),
        ("stale signature", 401),
        ("body changed after signing", 401),
        ("hash mismatch", 400),
        ("price order", 422),
        ("confidence 150", 422),
        ("string price", 422),
        ("truncated json", 422),
        ("array body", 422),
    ],
)
def test_rejections_store_nothing(alpine: Alpine, pg_url: str, name: str, status: int) -> None:
    payload = signal_payload()
    response = _hostile(alpine, name, payload)
    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]
    assert count_signals(pg_url) == 0


def _tampered(alpine: Alpine, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    at = datetime.now(UTC)
    assert alpine.signing_secret
    signature = Webhook(alpine.signing_secret).sign("evt_x", at, body.decode())
    headers = {
        "X-API-Key": alpine.api_key,
        "webhook-id": "evt_x",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    with alpine.client() as client:
        return client.post(PATH, content=body.replace(b"171.25", b"171.26"), headers=headers)


def _non_ascii_key(alpine: Alpine, payload: dict[str, Any]) -> httpx.Response:
    with alpine.client() as client:
        headers = {"X-API-Key": "k\u00e9y".encode("latin-1")}
        return client.post(PATH, content=json.dumps(payload).encode(), headers=headers)  # type: ignore[arg-type]


HOSTILE: dict[str, Callable[[Alpine, dict[str, Any]], httpx.Response]] = {
    "no key": lambda a, p: post(a, p, key=""),
    "wrong key": lambda a, p: post(a, p, key=new_api_key()),
    "non-ascii key": _non_ascii_key,
    "no signature": lambda a, p: post(a, p, sign=False),
    "stale signature": lambda a, p: post(a, p, sign_at=datetime.now(UTC) - timedelta(minutes=6)),
    "body changed after signing": _tampered,
    "hash mismatch": lambda a, p: post(a, dict(p, sha256="0" * 64)),
    "price order": lambda a, p: post(a, dict(p, stop_price=500.0)),
    "confidence 150": lambda a, p: post(a, dict(p, confidence=150)),
    "string price": lambda a, p: post(a, dict(p, entry_price="171.25")),
    "truncated json": lambda a, p: post(a, json.dumps(p).encode()[:-5]),
    "array body": lambda a, p: post(a, json.dumps([p]).encode()),
}


def _hostile(alpine: Alpine, name: str, payload: dict[str, Any]) -> httpx.Response:
    return HOSTILE[name](alpine, payload)


def test_oversize_body_is_413(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = in_process_alpine(pg_url, monkeypatch, extra_env={"ALPINE_MAX_BODY_BYTES": "2048"})
    try:
        big = dict(signal_payload(), reasoning="x" * 5000)
        response = post(server, big)
        assert response.status_code == 413
        assert count_signals(pg_url) == 0
    finally:
        server.close()


def test_health_and_metrics(alpine: Alpine) -> None:
    with alpine.client() as client:
        health = client.get("/api/v1/argo/sync/health")
        assert health.json() == {
            "status": "healthy",
            "service": "Alpine Analytics - Argo Sync",
            "endpoint": "/api/v1/argo/sync/signal",
        }
        post(alpine, signal_payload())
        deadline = time.monotonic() + 5
        text = ""
        while time.monotonic() < deadline and 'result="created"' not in text:
            text = client.get("/metrics").text
        assert 'alpine_signals_received_total{result="created"} 1.0' in text
        assert 'alpine_request_seconds_count{route="/api/v1/argo/sync/signal"} 1.0' in text


TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_batch_with_traceparents_is_taken_with_tracing_off(alpine: Alpine, pg_url: str) -> None:
    """The relay (tracing on) sends `traceparents` beside the signals; an Alpine with
    tracing off stores the items all the same, valid ones next to an invalid one."""
    first, second = signal_payload(symbol="AAPL"), signal_payload(symbol="MSFT")
    bad = signal_payload(symbol="NVDA") | {"entry_price": -1}
    for signals in ([first, second], [bad, signal_payload(symbol="TSLA")]):
        body = {"signals": signals, "traceparents": [TRACEPARENT] * len(signals)}
        answer = post(alpine, body, path="/api/v1/argo/sync/signals")
        assert answer.status_code == 200, answer.text
        statuses = [r["status"] for r in answer.json()["results"]]
        assert statuses == (
            ["created", "created"] if signals[0] is first else ["invalid", "created"]
        )
    assert count_signals(pg_url) == 3
    assert (
        post(alpine, {"signals": [first], "other": 1}, path="/api/v1/argo/sync/signals").status_code
        == 422
    )
