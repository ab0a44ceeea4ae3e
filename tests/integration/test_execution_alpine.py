"""The execution event end to end: Alpine's endpoint and elite-only fields (in-process:
`create_app` on PostgreSQL with the settings `alpine serve` would read), and the relay
delivering `signal.executed` after its creation (`relay run` to that app on a socket)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from argo.outbox import open_outbox
from argo.signal import Action
from argo.signals import open_signals
from argo.timeutil import utc_now
from argo.trades import Fill
from tests.kit.alpine import Alpine, in_process_alpine, served_alpine
from tests.kit.factories import make_signals
from tests.kit.pgdb import conninfo
from tests.kit.pipeline import outbox_rows, relay_env
from tests.support import (
    cli,
    new_signing_secret,
    signal_payload,
)

PATH = "/api/v1/argo/sync/execution"


@pytest.fixture
def alpine(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Alpine]:
    server = in_process_alpine(pg_url, monkeypatch)
    yield server
    server.close()


def post(server: Alpine, path: str, body: Any) -> Any:
    with server.client() as client:
        return client.post(path, json=body, headers={"X-API-Key": server.api_key})


def recent(minutes: int) -> str:
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_execution_endpoint_answers(alpine: Alpine) -> None:
    signal = signal_payload(timestamp=recent(30))
    execution = {
        "signal_id": signal["signal_id"],
        "order_id": "paper-0123456789abcdef0123",
        "executed_at": recent(29),
        "fill_price": 171.5,
    }
    unknown = post(alpine, PATH, execution)
    assert unknown.status_code == 404 and "stored (yet)" in unknown.json()["detail"]
    assert post(alpine, "/api/v1/argo/sync/signal", signal).status_code == 201
    applied = post(alpine, PATH, execution)
    assert applied.status_code == 200, applied.text
    assert applied.json() == {
        "status": "applied",
        "argo_signal_id": signal["signal_id"],
        "order_id": execution["order_id"],
    }
    again = post(alpine, PATH, execution)
    assert (again.status_code, again.json()["status"]) == (200, "already_applied")
    other = post(alpine, PATH, dict(execution, order_id="paper-other"))
    assert other.status_code == 409 and "order_id" in other.json()["detail"]
    moved = post(alpine, PATH, dict(execution, fill_price=172.0))
    assert moved.status_code == 409 and "fill_price" in moved.json()["detail"]
    for bad in (
        dict(execution, fill_price=-1.0),
        dict(execution, fill_price="171.5"),
        dict(execution, executed_at="2026-11-22 10:00:00"),
        dict(execution, order_id=""),
        dict(execution, order_id="x" * 65),
        dict(execution, signal_id="NOT-HEX"),
        dict(execution, extra=1),
        {k: v for k, v in execution.items() if k != "order_id"},
    ):
        refused = post(alpine, PATH, bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert isinstance(refused.json()["detail"], str)
    with alpine.client() as client:
        assert client.post(PATH, json=execution).status_code == 401
        metrics = client.get("/metrics").text
    assert 'alpine_executions_received_total{result="applied"} 1.0' in metrics
    assert 'alpine_executions_received_total{result="conflict"} 2.0' in metrics


def add_subscriber(env: dict[str, str], name: str, tier: str) -> str:
    result = cli("alpine", "subscribers", "add", name, "--tier", tier, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_only_elite_sees_the_execution(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"ALPINE_DATABASE_URL": pg_url}
    tokens = {tier: add_subscriber(env, f"{tier}-co", tier) for tier in ("starter", "pro", "elite")}
    server = in_process_alpine(pg_url, monkeypatch)
    try:
        # visible to every tier: a stock, confidence 97, older than starter's 15 minutes
        traded = signal_payload(confidence=97.0, timestamp=recent(60))
        untraded = signal_payload(confidence=97.0, timestamp=recent(59))
        for payload in (traded, untraded):
            assert post(server, "/api/v1/argo/sync/signal", payload).status_code == 201
        execution = {
            "signal_id": traded["signal_id"],
            "order_id": "paper-feedc0ffee",
            "executed_at": "2026-11-22T10:00:05.5+01:00",
            "fill_price": 171.4,
        }
        assert post(server, PATH, execution).status_code == 200
        seen: dict[str, dict[str, dict[str, Any]]] = {}
        with server.client() as client:
            for tier, token in tokens.items():
                answer = client.get(
                    "/api/v1/signals/subscribed", headers={"Authorization": f"Bearer {token}"}
                )
                assert answer.status_code == 200
                seen[tier] = {s["signal_id"]: s for s in answer.json()["signals"]}
    finally:
        server.close()
    for tier in ("starter", "pro"):
        assert set(seen[tier]) == {traded["signal_id"], untraded["signal_id"]}
        for body in seen[tier].values():
            assert not {"order_id", "executed", "executed_at", "fill_price"} & set(body)
    elite = seen["elite"]
    assert elite[traded["signal_id"]]["order_id"] == "paper-feedc0ffee"
    assert elite[traded["signal_id"]]["executed"] is True
    assert elite[traded["signal_id"]]["executed_at"] == "2026-11-22T09:00:05.500000Z"
    assert elite[traded["signal_id"]]["fill_price"] == 171.4
    assert elite[untraded["signal_id"]]["executed"] is False
    assert elite[untraded["signal_id"]]["order_id"] is None


def test_relay_delivers_the_execution_after_its_creation(pg_url: str, tmp_path: Path) -> None:
    server = served_alpine(pg_url, signing_secret=new_signing_secret())
    try:
        env = relay_env(server, tmp_path)
        store = open_signals(Path(env["ARGO_DB"]))
        [signal] = make_signals(1)
        store.add(signal, utc_now())
        fill = Fill(
            signal.signal_id,
            "paper-00112233445566778899",
            signal.symbol,
            signal.action,
            round(signal.entry_price * 1.0005, 6),
            utc_now(),
        )
        assert store.record_executions([fill], utc_now()) == [fill]
        store.close()
        result = cli("relay", "run", "--once", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        server.close()
    rows = outbox_rows(Path(env["ARGO_DB"]))
    assert [r["event_type"] for r in rows] == ["signal.created", "signal.executed"]
    assert all(r["delivered_at"] for r in rows) and rows[1]["attempts"] == 0
    assert str(rows[0]["delivered_at"]) <= str(rows[1]["delivered_at"])
    with psycopg.connect(conninfo(pg_url)) as conn:
        stored = conn.execute(
            "SELECT order_id, fill_price FROM signals WHERE signal_id = %s", (signal.signal_id,)
        ).fetchone()
    assert stored == (fill.order_id, fill.fill_price)


def test_an_execution_waits_behind_its_undelivered_creation(tmp_path: Path) -> None:
    """The claim query treats `signal.executed` like an outcome: not due before its
    creation is delivered, and parked behind a dead one."""
    store = open_signals(tmp_path / "signals.db")
    [signal] = make_signals(1)
    store.add(signal, utc_now())
    fill = Fill(signal.signal_id, "paper-x", signal.symbol, Action.BUY, 1.0, utc_now())
    store.record_executions([fill], utc_now())
    store.close()
    outbox = open_outbox(tmp_path / "signals.db")
    try:
        claim = outbox.claim("w1", utc_now(), 60.0, 10)
        assert [r.event_type for r in claim.rows] == ["signal.created"]
        with sqlite3.connect(tmp_path / "signals.db") as conn:
            conn.execute("UPDATE sync_outbox SET dead_at = created_at WHERE id = 1")
        assert outbox.claim("w2", utc_now(), 60.0, 10).rows == ()
        assert outbox.backlog(utc_now()).parked == 1
    finally:
        outbox.close()
