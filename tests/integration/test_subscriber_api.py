"""The subscriber API against Alpine on PostgreSQL, served by uvicorn on a real socket
from this process (`tests.kit.alpine.served_alpine`: the app and server `alpine serve`
runs, without its interpreter start); subscribers are added with the store the
`alpine subscribers` commands use, whose own test runs the real commands."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from argo.signal import AssetType
from tests.kit.alpine import Alpine, add_subscribers, in_process_alpine, served_alpine
from tests.support import cli, signal_payload, wait_for

TIERS = ("starter", "pro", "elite")


@dataclass
class Service:
    server: Alpine
    tokens: dict[str, str]
    env: dict[str, str]


def add_subscriber(env: dict[str, str], name: str, tier: str) -> str:
    result = cli("alpine", "subscribers", "add", name, "--tier", tier, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def service(pg_url: str) -> Iterator[Service]:
    env = {"ALPINE_DATABASE_URL": pg_url}
    added = add_subscribers(pg_url, {f"{tier}-co": tier for tier in TIERS})
    tokens = {tier: added[f"{tier}-co"] for tier in TIERS}
    server = served_alpine(pg_url, extra_env={"ALPINE_STREAM_HEARTBEAT_SECONDS": "1"})
    yield Service(server, tokens, env)
    server.close()


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ingest(service: Service, **overrides: Any) -> dict[str, Any]:
    payload = signal_payload(**overrides)
    with service.server.client() as client:
        answer = client.post(
            "/api/v1/argo/sync/signal", json=payload, headers={"X-API-Key": service.server.api_key}
        )
    assert answer.status_code == 201, answer.text
    return payload


def get(service: Service, tier: str, path: str, **params: Any) -> httpx.Response:
    with service.server.client() as client:
        return client.get(
            path, params=params, headers={"Authorization": f"Bearer {service.tokens[tier]}"}
        )


def test_each_tier_sees_exactly_its_signals_and_fields(service: Service) -> None:
    now = datetime.now(UTC)
    old, fresh = stamp(now - timedelta(minutes=20)), stamp(now - timedelta(minutes=1))
    older = stamp(now - timedelta(minutes=21))
    a = ingest(service, confidence=96.0, timestamp=old)  # stock, high, old: everyone
    b = ingest(service, confidence=96.0, timestamp=fresh)  # too fresh for starter
    c = ingest(
        service, symbol="BTC-USD", asset_type=AssetType.CRYPTO, confidence=97.0, timestamp=old
    )
    d = ingest(service, confidence=91.0, timestamp=older)  # below starter's bar
    e = ingest(
        service, symbol="ETH-USD", asset_type=AssetType.CRYPTO, confidence=50.0, timestamp=old
    )
    expected = {
        "starter": {a["signal_id"]},
        "pro": {a["signal_id"], b["signal_id"], c["signal_id"], d["signal_id"]},
        "elite": {x["signal_id"] for x in (a, b, c, d, e)},
    }
    for tier in TIERS:
        body = get(service, tier, "/api/v1/signals/subscribed").json()
        assert {s["signal_id"] for s in body["signals"]} == expected[tier], tier
        keys = set(body["signals"][0])
        assert ("reasoning" in keys) == (tier != "starter")
        assert ("regime" in keys) == (tier == "elite")
        assert ("outcome" in keys and "profit_loss_pct" in keys) == (tier == "elite")
    filtered = get(service, "elite", "/api/v1/signals", symbol="btc-usd").json()["signals"]
    assert [s["signal_id"] for s in filtered] == [c["signal_id"]]


def test_pagination_returns_every_signal_once_while_new_ones_arrive(service: Service) -> None:
    base = datetime.now(UTC) - timedelta(hours=1)
    originals = {
        ingest(service, timestamp=stamp(base + timedelta(seconds=i)))["signal_id"]
        for i in range(25)
    }
    seen: list[str] = []
    cursor = None
    for page_number in range(10):
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = get(service, "elite", "/api/v1/signals", **params).json()
        seen += [s["signal_id"] for s in body["signals"]]
        for extra in range(2):  # new signals between pages
            ingest(
                service,
                timestamp=stamp(base + timedelta(minutes=10, seconds=page_number * 2 + extra)),
            )
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == originals


@dataclass
class SseReader:
    """Reads a stream in a thread; events land in a queue with their arrival time."""

    response: httpx.Response
    events: queue.Queue[tuple[float, dict[str, str]]] = field(default_factory=queue.Queue)
    comments: list[str] = field(default_factory=list)

    def start(self) -> SseReader:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        current: dict[str, str] = {}
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):
                    self.comments.append(line)
                elif not line:
                    if "data" in current:
                        self.events.put((time.monotonic(), current))
                    current = {}
                else:
                    key, _, value = line.partition(": ")
                    current[key] = value
        except httpx.HTTPError:
            pass

    def take(self, count: int, timeout: float = 10.0) -> list[tuple[float, dict[str, str]]]:
        deadline = time.monotonic() + timeout
        taken: list[tuple[float, dict[str, str]]] = []
        while len(taken) < count:
            taken.append(self.events.get(timeout=max(0.01, deadline - time.monotonic())))
        return taken


def open_stream(
    service: Service, tier: str, last_event_id: str | None = None
) -> tuple[httpx.Client, SseReader]:
    client = httpx.Client(base_url=service.server.url, timeout=httpx.Timeout(30, read=None))
    headers = {"Authorization": f"Bearer {service.tokens[tier]}"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    request = client.build_request("GET", "/api/v1/signals/stream", headers=headers)
    response = client.send(request, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    return client, SseReader(response).start()


def test_stream_delivers_to_elite_within_a_second(service: Service) -> None:
    client, reader = open_stream(service, "elite")
    try:
        wait_for(lambda: reader.comments or True, timeout=2)  # connected
        time.sleep(0.3)  # the stream's first window starts at connect time
        sent_at = time.monotonic()
        payload = ingest(service, timestamp=stamp(datetime.now(UTC)))
        [(arrived, event)] = reader.take(1, timeout=5)
    finally:
        client.close()
    assert payload["signal_id"] in event["data"]
    print(f"\nSTREAM elite latency {(arrived - sent_at) * 1000:.0f} ms")
    assert arrived - sent_at < 1.0


def test_stream_shows_starter_the_signal_only_after_the_delay(service: Service) -> None:
    client, reader = open_stream(service, "starter")
    try:
        time.sleep(0.3)
        visible_at = datetime.now(UTC) + timedelta(seconds=2)
        sent_at = time.monotonic()
        payload = ingest(
            service, confidence=99.0, timestamp=stamp(visible_at - timedelta(minutes=15))
        )
        [(arrived, event)] = reader.take(1, timeout=10)
    finally:
        client.close()
    assert payload["signal_id"] in event["data"] and "reasoning" not in event["data"]
    assert 1.5 <= arrived - sent_at < 5.0


def test_resume_with_last_event_id_skips_and_repeats_nothing(service: Service) -> None:
    client, reader = open_stream(service, "elite")
    try:
        time.sleep(0.3)
        sent = [
            ingest(service, timestamp=stamp(datetime.now(UTC)), entry_price=170.0 + i / 10)[
                "signal_id"
            ]
            for i in range(5)
        ]
        first_two = reader.take(2)
    finally:
        client.close()
    last_id = first_two[-1][1]["id"]
    for i in range(2):  # more signals while disconnected
        sent.append(
            ingest(service, timestamp=stamp(datetime.now(UTC)), entry_price=171.0 + i / 10)[
                "signal_id"
            ]
        )
    client, reader = open_stream(service, "elite", last_event_id=last_id)
    try:
        rest = reader.take(5)
        time.sleep(1.0)
        assert reader.events.empty()  # nothing repeated afterwards
    finally:
        client.close()
    received = [e["data"] for _, e in first_two + rest]
    ids = [next(s for s in sent if s in data) for data in received]
    assert ids == sent and len(set(ids)) == 7


def test_idle_stream_sends_heartbeats(service: Service) -> None:
    client, reader = open_stream(service, "pro")
    try:
        wait_for(lambda: reader.comments, timeout=5, what="a heartbeat comment")
    finally:
        client.close()
    assert reader.comments[0] == ": heartbeat"


def test_tokens_and_keys_are_not_interchangeable(service: Service) -> None:
    server = service.server
    with server.client() as client:
        assert client.get("/api/v1/signals/subscribed").status_code == 401
        bad = client.get("/api/v1/signals", headers={"Authorization": "Bearer sub_nope"})
        assert bad.status_code == 401 and bad.json()["detail"]
        argo_key = client.get("/api/v1/signals", headers={"X-API-Key": server.api_key})
        assert argo_key.status_code == 401
        as_key = client.post(
            "/api/v1/argo/sync/signal",
            json=signal_payload(),
            headers={
                "X-API-Key": service.tokens["elite"],
                "Authorization": f"Bearer {service.tokens['elite']}",
            },
        )
        assert as_key.status_code == 401
    assert get(service, "pro", "/api/v1/signals/subscribed").status_code == 200
    revoked = cli("alpine", "subscribers", "revoke", "pro-co", env=service.env)
    assert revoked.returncode == 0
    assert get(service, "pro", "/api/v1/signals/subscribed").status_code == 401


def test_per_token_rate_limit(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    token = add_subscribers(pg_url, {"eager": "elite"})["eager"]
    server = in_process_alpine(
        pg_url,
        monkeypatch,
        extra_env={"ALPINE_SUBSCRIBER_RATE_LIMIT": "0.5", "ALPINE_SUBSCRIBER_RATE_BURST": "2"},
    )
    try:
        with server.client() as client:
            codes = [
                client.get(
                    "/api/v1/signals/subscribed", headers={"Authorization": f"Bearer {token}"}
                )
                for _ in range(3)
            ]
        assert [c.status_code for c in codes] == [200, 200, 429]
        assert int(codes[2].headers["Retry-After"]) >= 1
    finally:
        server.close()


def test_subscriber_cli_rejects_bad_input(pg_url: str) -> None:
    env = {"ALPINE_DATABASE_URL": pg_url}
    add_subscriber(env, "dup", "pro")
    assert cli("alpine", "subscribers", "add", "dup", "--tier", "pro", env=env).returncode == 2
    assert (
        cli("alpine", "subscribers", "add", "bad name!", "--tier", "pro", env=env).returncode == 2
    )
    assert cli("alpine", "subscribers", "add", "x", "--tier", "gold", env=env).returncode == 2
    assert cli("alpine", "subscribers", "revoke", "nobody", env=env).returncode == 1
    listed = cli("alpine", "subscribers", "list", env=env).stdout
    assert "dup" in listed and "pro" in listed and "sub_" not in listed


def test_a_late_signal_is_marked_late_in_pages_the_stream_and_metrics(service: Service) -> None:
    client, reader = open_stream(service, "elite")
    try:
        wait_for(lambda: reader.comments or True, timeout=2)  # connected
        now = datetime.now(UTC)
        fresh = ingest(service, timestamp=stamp(now))
        old = ingest(service, timestamp=stamp(now - timedelta(hours=2)), symbol="NVDA")
        events = [event["data"] for _, event in reader.take(2, timeout=10)]
    finally:
        client.close()
    late_by_id = {
        s["signal_id"]: s["late"]
        for s in get(service, "elite", "/api/v1/signals").json()["signals"]
    }
    assert late_by_id == {fresh["signal_id"]: False, old["signal_id"]: True}
    streamed = [e for e in events if old["signal_id"] in e]
    assert len(streamed) == 1 and '"late":true' in streamed[0].replace(" ", "")
    assert all('"late":false' in e.replace(" ", "") for e in events if fresh["signal_id"] in e)
    metrics = httpx.get(f"{service.server.url}/metrics", timeout=5).text
    assert "alpine_signals_late_total 1.0" in metrics
