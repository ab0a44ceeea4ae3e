"""Batch, outcome, reconciliation, key rotation and rate limit: Alpine's HTTP behaviour,
in-process (`create_app` behind an in-process client; tests.kit.alpine)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from alpine.canonical import verification_hash
from tests.kit.alpine import Alpine, in_process_alpine
from tests.support import new_api_key, signal_payload


@pytest.fixture
def alpine(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Alpine]:
    server = in_process_alpine(pg_url, monkeypatch)
    yield server
    server.close()


def post(server: Alpine, path: str, body: Any, key: str | None = None) -> Any:
    with server.client() as client:
        return client.post(path, json=body, headers={"X-API-Key": key or server.api_key})


def payloads(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        signal_payload(timestamp=f"2026-11-22T10:{(start + i) // 60:02d}:{(start + i) % 60:02d}Z")
        for i in range(count)
    ]


def test_batch_gives_one_result_per_item_in_order(alpine: Alpine) -> None:
    first = payloads(3)
    assert post(alpine, "/api/v1/argo/sync/signals", {"signals": first[:1]}).status_code == 200
    conflicting = dict(first[0], confidence=11.0)
    conflicting["sha256"] = verification_hash(conflicting)
    bad_hash = dict(first[2], sha256="f" * 64)
    batch = [first[1], first[0], conflicting, {"symbol": "??"}, bad_hash, first[1]]
    response = post(alpine, "/api/v1/argo/sync/signals", {"signals": batch})
    assert response.status_code == 200
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["created", "duplicate", "conflict", "invalid", "invalid", "duplicate"]
    results = response.json()["results"]
    assert "signal_id" in results[3]["error"] and "sha256" in results[4]["error"]
    assert results[0]["alpine_signal_id"] == results[5]["alpine_signal_id"]
    # The valid item of the mixed batch was stored; a repeat of the batch changes nothing.
    again = post(alpine, "/api/v1/argo/sync/signals", {"signals": [first[1]]}).json()
    assert again["results"][0]["status"] == "duplicate"


def test_full_batch_of_500(alpine: Alpine) -> None:
    response = post(alpine, "/api/v1/argo/sync/signals", {"signals": payloads(500)})
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"created"}


def test_outcome_lifecycle(alpine: Alpine) -> None:
    signal = payloads(1)[0]
    outcome = {
        "signal_id": signal["signal_id"],
        "outcome": "win",
        "exit_price": 180.5,
        "profit_loss_pct": 5.4,
        "closed_at": "2026-11-22T11:00:00Z",
    }
    assert post(alpine, "/api/v1/argo/sync/outcome", outcome).status_code == 404
    assert post(alpine, "/api/v1/argo/sync/signal", signal).status_code == 201
    applied = post(alpine, "/api/v1/argo/sync/outcome", outcome)
    assert applied.status_code == 200 and applied.json()["status"] == "applied"
    again = post(alpine, "/api/v1/argo/sync/outcome", outcome)
    assert again.status_code == 200 and again.json()["status"] == "already_applied"
    other = post(alpine, "/api/v1/argo/sync/outcome", dict(outcome, outcome="loss"))
    assert other.status_code == 409
    assert (
        post(alpine, "/api/v1/argo/sync/outcome", dict(outcome, outcome="maybe")).status_code == 422
    )


def test_reconciliation_listing_pages_through_everything(alpine: Alpine) -> None:
    sent = payloads(25)
    post(alpine, "/api/v1/argo/sync/signals", {"signals": sent})
    seen: list[tuple[str, str]] = []
    cursor = None
    with alpine.client() as client:
        for _ in range(10):
            params = {"limit": "10", "since": "2026-11-22T00:00:00Z"}
            if cursor:
                params["cursor"] = cursor
            page = client.get(
                "/api/v1/argo/sync/signals", params=params, headers={"X-API-Key": alpine.api_key}
            ).json()
            seen += [(s["signal_id"], s["sha256"]) for s in page["signals"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == sorted((s["signal_id"], s["sha256"]) for s in sent)
        assert client.get("/api/v1/argo/sync/signals").status_code == 401
        bad = client.get(
            "/api/v1/argo/sync/signals",
            params={"cursor": "zz"},
            headers={"X-API-Key": alpine.api_key},
        )
        assert bad.status_code == 422


def test_key_rotation_overlap_then_old_key_rejected(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = new_api_key(), new_api_key()
    server = in_process_alpine(pg_url, monkeypatch, api_keys=[old, new])
    try:
        signals = payloads(3)
        assert post(server, "/api/v1/argo/sync/signal", signals[0], key=old).status_code == 201
        assert post(server, "/api/v1/argo/sync/signal", signals[1], key=new).status_code == 201
    finally:
        server.close()
    server = in_process_alpine(pg_url, monkeypatch, api_keys=[new])
    try:
        assert post(server, "/api/v1/argo/sync/signal", signals[2], key=old).status_code == 401
        assert post(server, "/api/v1/argo/sync/signal", signals[2], key=new).status_code == 201
    finally:
        server.close()


def test_rate_limit_answers_429_with_retry_after(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = in_process_alpine(
        pg_url, monkeypatch, extra_env={"ALPINE_RATE_LIMIT": "0.5", "ALPINE_RATE_BURST": "2"}
    )
    try:
        answers = [post(server, "/api/v1/argo/sync/signal", p) for p in payloads(3)]
        assert [a.status_code for a in answers] == [201, 201, 429]
        assert int(answers[2].headers["Retry-After"]) >= 1
        assert "rate limit" in answers[2].json()["detail"]
    finally:
        server.close()


def test_openapi_documents_every_ingest_route(alpine: Alpine) -> None:
    with alpine.client() as client:
        schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/argo/sync/signal",
        "/api/v1/external-signals/sync/signal",
        "/api/v1/argo/sync/signals",
        "/api/v1/argo/sync/outcome",
        "/api/v1/argo/sync/health",
    ):
        assert path in paths, path
    single = paths["/api/v1/argo/sync/signal"]["post"]["responses"]
    assert {"200", "201", "400", "401", "409", "413", "422", "429", "503"} <= set(single)
    assert "SignalIn" in json.dumps(schema["components"]["schemas"])


def test_docs_describe_every_route_of_the_openapi_schema(alpine: Alpine) -> None:
    from tests.support import ROOT

    with alpine.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    docs = (ROOT / "docs" / "http-api.md").read_text() + (
        ROOT / "docs" / "subscriber-api.md"
    ).read_text()
    for path, methods in paths.items():
        for method in methods:
            assert f"{method.upper()} {path}" in docs or f"(alias `{path}`)" in docs, (method, path)


def test_a_replayed_signed_request_is_a_harmless_duplicate(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    from tests.support import new_signing_secret

    secret = new_signing_secret()
    server = in_process_alpine(pg_url, monkeypatch, signing_secret=secret)
    try:
        body = json.dumps(signal_payload())
        now = datetime.now(UTC)
        headers = {
            "X-API-Key": server.api_key,
            "webhook-id": "evt_replayed",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign("evt_replayed", now, body),
        }
        with server.client() as client:
            first = client.post("/api/v1/argo/sync/signal", content=body, headers=headers)
            again = client.post("/api/v1/argo/sync/signal", content=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["status"] == "duplicate"
    finally:
        server.close()


def _signed_headers(key: str, body: str, *secrets: str) -> dict[str, str]:
    from datetime import UTC, datetime

    from standardwebhooks import Webhook

    now = datetime.now(UTC)
    return {
        "X-API-Key": key,
        "webhook-id": "evt_rotation",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign("evt_rotation", now, body) for s in secrets),
    }


def test_signing_secret_rotation_without_downtime(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support import new_signing_secret

    old, new = new_signing_secret(), new_signing_secret()
    bodies = [json.dumps(p) for p in payloads(4)]
    server = in_process_alpine(pg_url, monkeypatch, signing_secret=f"{old},{new}")
    try:
        with server.client() as client:
            for body, secret in ((bodies[0], old), (bodies[1], new)):
                answer = client.post(
                    "/api/v1/argo/sync/signal",
                    content=body,
                    headers=_signed_headers(server.api_key, body, secret),
                )
                assert answer.status_code == 201, answer.text
    finally:
        server.close()
    server = in_process_alpine(pg_url, monkeypatch, api_keys=server.api_keys, signing_secret=new)
    try:
        with server.client() as client:
            only_old = _signed_headers(server.api_key, bodies[2], old)
            both = _signed_headers(server.api_key, bodies[3], old, new)
            refused = client.post("/api/v1/argo/sync/signal", content=bodies[2], headers=only_old)
            accepted = client.post("/api/v1/argo/sync/signal", content=bodies[3], headers=both)
        assert refused.status_code == 401
        assert accepted.status_code == 201
    finally:
        server.close()
