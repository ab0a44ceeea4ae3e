"""One live feed per process: streams share it, so database queries do not grow with
them (the app `alpine serve` runs, served by uvicorn on a real socket from this
process; real PostgreSQL, and the SQLite fallback)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from alpine.migrations import upgrade
from alpine.store import make_engine
from tests.kit.alpine import Alpine, add_subscribers, served_alpine
from tests.support import signal_payload, wait_for

SIGNALS = 10


class Stream:
    """A subscriber's open stream, counting the signal events it receives."""

    def __init__(self, client: httpx.Client, token: str) -> None:
        request = client.build_request(
            "GET", "/api/v1/signals/stream", headers={"Authorization": f"Bearer {token}"}
        )
        self.response = client.send(request, stream=True)
        assert self.response.status_code == 200
        self.connected = threading.Event()
        self.events = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines():
                if line.startswith("retry:"):
                    self.connected.set()
                elif line.startswith("event: signal"):
                    self.events += 1
        except httpx.HTTPError:
            pass


def add_subscriber(url: str, name: str, tier: str) -> str:
    return add_subscribers(url, {name: tier})[name]


@pytest.fixture
def alpine(pg_url: str) -> Iterator[Alpine]:
    server = served_alpine(
        pg_url,
        extra_env={"ALPINE_RATE_LIMIT": "0", "ALPINE_SUBSCRIBER_RATE_LIMIT": "0"},
    )
    yield server
    server.close()


def queries(server: Alpine) -> float:
    with server.client() as client:
        found = re.search(
            r"^alpine_db_queries_total ([0-9.e+]+)$", client.get("/metrics").text, re.M
        )
    assert found
    return float(found.group(1))


def ingest_and_count(server: Alpine, streams: list[Stream], start: int) -> float:
    """Queries Alpine made while SIGNALS signals were stored and reached every stream."""
    before = queries(server)
    with server.client() as client:
        for i in range(SIGNALS):
            moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            payload = signal_payload(timestamp=moment, entry_price=170.0 + (start + i) / 100)
            answer = client.post(
                "/api/v1/argo/sync/signal", json=payload, headers={"X-API-Key": server.api_key}
            )
            assert answer.status_code == 201
    wait_for(
        lambda: all(s.events >= start + SIGNALS for s in streams),
        timeout=20,
        what="every stream to receive every signal",
    )
    return queries(server) - before


def test_database_queries_do_not_grow_with_streams(alpine: Alpine, pg_url: str) -> None:
    elite = add_subscriber(pg_url, "elite-co", "elite")
    pro = add_subscriber(pg_url, "pro-co", "pro")
    with ExitStack() as stack:
        client = stack.enter_context(
            httpx.Client(base_url=alpine.url, timeout=httpx.Timeout(30, read=None))
        )
        one = [Stream(client, elite)]
        wait_for(lambda: one[0].connected.is_set(), what="the first stream")
        alone = ingest_and_count(alpine, one, 0)

        more = [Stream(client, elite if i % 2 else pro) for i in range(19)]
        wait_for(lambda: all(s.connected.is_set() for s in more), what="19 more streams")
        for stream in more:
            stream.events = SIGNALS  # they joined later: count from here
        crowded = ingest_and_count(alpine, one + more, SIGNALS)
        for stream in one + more:
            stream.response.close()
    print(f"\nqueries for {SIGNALS} signals: 1 stream {alone:.0f}, 20 streams {crowded:.0f}")
    # Per-stream polling would add 4 queries a second per stream; a shared feed adds
    # at most one query a pass for the second tier.
    assert crowded <= 1.5 * alone + 10


def test_on_sqlite_the_shared_feed_polls(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'alpine.db'}"
    engine = make_engine(url)  # what `alpine db upgrade` does
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    token = add_subscriber(url, "lite", "elite")
    server = served_alpine(url)
    try:
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(30, read=None)) as client:
            stream = Stream(client, token)
            wait_for(stream.connected.is_set, what="the stream")
            moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            answer = client.post(
                "/api/v1/argo/sync/signal",
                json=signal_payload(timestamp=moment),
                headers={"X-API-Key": server.api_key},
            )
            assert answer.status_code == 201
            wait_for(lambda: stream.events == 1, timeout=10, what="the signal on the stream")
            stream.response.close()
    finally:
        server.close()
