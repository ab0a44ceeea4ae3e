"""Exact idempotency, the one timestamp rule, P&L bounds and JSON 5xx on PostgreSQL:
Alpine's HTTP behaviour, in-process (`create_app` behind an in-process client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from alpine.canonical import verification_hash
from argo.signal import Action
from tests.kit.alpine import Alpine, in_process_alpine
from tests.kit.pgdb import conninfo, count_signals
from tests.support import signal_payload

SINGLE = "/api/v1/argo/sync/signal"
BATCH = "/api/v1/argo/sync/signals"
OUTCOME = "/api/v1/argo/sync/outcome"
SHORT = {"action": Action.SELL, "entry_price": 160.0, "target_price": 150.0, "stop_price": 170.0}
HOSTILE_TIMES = ("2026-W46-4T14:30:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")


@pytest.fixture
def alpine(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Alpine]:
    server = in_process_alpine(pg_url, monkeypatch)
    yield server
    server.close()


def post(server: Alpine, path: str, body: Any) -> httpx.Response:
    with server.client() as client:
        return client.post(path, json=body, headers={"X-API-Key": server.api_key})


def rehashed(payload: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = {**payload, **changes}
    changed["sha256"] = verification_hash(changed)
    return changed


def stored_row(pg_url: str) -> tuple[Any, ...]:
    with psycopg.connect(conninfo(pg_url)) as conn:
        row = conn.execute(
            "SELECT reasoning, regime, asset_type, data_source, timestamp FROM signals"
        ).fetchone()
    assert row is not None
    return tuple(row)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"reasoning": "another story"}, ["reasoning"]),
        ({"regime": "CRISIS"}, ["regime"]),
        ({"asset_type": "crypto"}, ["asset_type"]),
        ({"data_source": "elsewhere"}, ["data_source"]),
        ({"reasoning": None, "regime": None}, ["reasoning", "regime"]),
        ({"reasoning": "x", "data_source": "y"}, ["data_source", "reasoning"]),
    ],
)
def test_a_resend_differing_outside_the_hash_is_a_conflict_naming_the_fields(
    alpine: Alpine, pg_url: str, changes: dict[str, Any], named: list[str]
) -> None:
    payload = signal_payload()
    assert post(alpine, SINGLE, payload).status_code == 201
    before = stored_row(pg_url)
    resend = {**payload, **changes}  # the nine hashed fields are untouched: same sha256
    answer = post(alpine, SINGLE, resend)
    assert answer.status_code == 409, answer.text
    detail = answer.json()["detail"]
    assert detail.endswith("differing fields: " + ", ".join(named)), detail
    [item] = post(alpine, BATCH, {"signals": [resend]}).json()["results"]
    assert item["status"] == "conflict" and item["error"] == detail
    assert stored_row(pg_url) == before and count_signals(pg_url) == 1


def test_the_same_signal_written_differently_is_a_duplicate(alpine: Alpine) -> None:
    payload = signal_payload(entry_price=171.0, target_price=180.0, stop_price=165.0)
    assert post(alpine, SINGLE, payload).status_code == 201
    as_integers = {**payload, "entry_price": 171, "target_price": 180, "stop_price": 165}
    assert verification_hash(as_integers) == payload["sha256"]
    again = post(alpine, SINGLE, as_integers)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"


def test_an_other_spelling_of_the_same_instant_differs_only_in_its_hash(
    alpine: Alpine,
) -> None:
    payload = signal_payload(timestamp="2026-11-22T10:00:00Z")
    assert post(alpine, SINGLE, payload).status_code == 201
    shifted = rehashed(payload, timestamp="2026-11-22T11:00:00+01:00")
    answer = post(alpine, SINGLE, shifted)
    assert answer.status_code == 409
    assert answer.json()["detail"].endswith("differing fields: sha256")


@pytest.mark.parametrize("moment", HOSTILE_TIMES)
def test_timestamps_outside_the_rule_are_422_alone_and_in_a_batch(
    alpine: Alpine, pg_url: str, moment: str
) -> None:
    bad = rehashed(signal_payload(), timestamp=moment)
    single = post(alpine, SINGLE, bad)
    assert single.status_code == 422, single.text
    assert "timestamp" in single.json()["detail"]
    good = signal_payload(timestamp="2026-11-22T10:00:05Z")
    batch = post(alpine, BATCH, {"signals": [good, bad]})
    assert batch.status_code == 200, batch.text
    first, second = batch.json()["results"]
    assert first["status"] == "created"
    assert second["status"] == "invalid" and "timestamp" in second["error"]
    assert count_signals(pg_url) == 1


def test_an_offset_timestamp_is_stored_as_utc(alpine: Alpine, pg_url: str) -> None:
    payload = signal_payload(timestamp="2026-11-22T15:30:00.25+05:30")
    assert post(alpine, SINGLE, payload).status_code == 201
    assert stored_row(pg_url)[4].isoformat() == "2026-11-22T10:00:00.250000+00:00"


def outcome_of(signal_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "signal_id": signal_id,
        "outcome": "loss",
        "exit_price": 400.0,
        "profit_loss_pct": -150.0,
        "closed_at": "2026-11-22T11:00:00Z",
        **fields,
    }


def test_a_sell_can_lose_more_than_everything_a_buy_cannot(alpine: Alpine) -> None:
    sell = signal_payload(**SHORT)
    buy = signal_payload(timestamp="2026-11-22T10:00:07Z")
    assert post(alpine, BATCH, {"signals": [sell, buy]}).status_code == 200
    applied = post(alpine, OUTCOME, outcome_of(sell["signal_id"]))
    assert applied.status_code == 200 and applied.json()["status"] == "applied"
    too_much = post(alpine, OUTCOME, outcome_of(buy["signal_id"]))
    assert too_much.status_code == 422 and "BUY" in too_much.json()["detail"]
    boundary = post(alpine, OUTCOME, outcome_of(buy["signal_id"], profit_loss_pct=-100.0))
    assert boundary.status_code == 200


def test_a_sell_cannot_gain_more_than_everything(alpine: Alpine) -> None:
    sell = signal_payload(**SHORT)
    assert post(alpine, SINGLE, sell).status_code == 201
    answer = post(alpine, OUTCOME, outcome_of(sell["signal_id"], profit_loss_pct=100.5))
    assert answer.status_code == 422 and "SELL" in answer.json()["detail"]


def test_a_resent_outcome_is_compared_field_by_field(alpine: Alpine) -> None:
    signal = signal_payload()
    assert post(alpine, SINGLE, signal).status_code == 201
    outcome = outcome_of(signal["signal_id"], outcome="win", exit_price=180.5, profit_loss_pct=5.4)
    assert post(alpine, OUTCOME, outcome).json()["status"] == "applied"
    same_instant = {**outcome, "closed_at": "2026-11-22T12:00:00+01:00", "exit_price": 180.5}
    again = post(alpine, OUTCOME, same_instant)
    assert again.status_code == 200 and again.json()["status"] == "already_applied"
    other = post(alpine, OUTCOME, {**outcome, "exit_price": 181.0, "profit_loss_pct": 5.7})
    assert other.status_code == 409
    assert other.json()["detail"].endswith("differing fields: exit_price, profit_loss_pct")
    late = post(alpine, OUTCOME, {**outcome, "closed_at": "2026-11-22T11:00:01Z"})
    assert late.json()["detail"].endswith("differing fields: closed_at")


def test_an_unexpected_error_answers_json_with_an_error_id_that_is_logged(
    alpine: Alpine, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(conninfo(pg_url), autocommit=True) as conn:
        conn.execute("ALTER TABLE signals RENAME COLUMN regime TO regime_gone")
    answer = post(alpine, SINGLE, signal_payload())
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["error_id"].startswith("err_") and body["error_id"] in body["detail"]
    assert body["error_id"] in caplog.text
    with alpine.client() as client:  # and it keeps serving
        assert client.get("/api/v1/argo/sync/health").status_code == 200


@pytest.mark.parametrize(
    ("action", "profit_loss_pct", "allowed"),
    [("BUY", -100.0, True), ("BUY", -100.5, False), ("SELL", -250.0, True), ("SELL", 100.5, False)],
)
def test_the_database_enforces_the_same_bound(
    pg_url: str, action: str, profit_loss_pct: float, allowed: bool
) -> None:
    prices = (171.25, 180.5, 165.0) if action == "BUY" else (160.0, 150.0, 170.0)
    with psycopg.connect(conninfo(pg_url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO signals (signal_id, verification_hash, symbol, action, entry_price,"
            " target_price, stop_price, confidence, strategy, asset_type, data_source,"
            " timestamp, api_key_id) VALUES ('00000000000000aa', %s, 'AAPL', %s, %s, %s, %s,"
            " 90, 's', 'stock', 'd', '2026-11-22T10:00:00Z', 'key_x')",
            ("a" * 64, action, *prices),
        )
        update = (
            "UPDATE signals SET outcome = 'loss', exit_price = 1, profit_loss_pct = %s,"
            " closed_at = now()"
        )
        if allowed:
            conn.execute(update, (profit_loss_pct,))
        else:
            with pytest.raises(psycopg.errors.CheckViolation, match="profit_loss_bound"):
                conn.execute(update, (profit_loss_pct,))
        with pytest.raises(psycopg.errors.CheckViolation, match="timestamp_range"):
            conn.execute("UPDATE signals SET timestamp = '1969-12-31T23:59:59Z'")
