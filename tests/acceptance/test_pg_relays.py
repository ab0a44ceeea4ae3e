"""Several real relays on one PostgreSQL outbox, really killed: nothing lost, nothing
stored twice, and no row ever in flight in two live relays at once (a proxy in front of
Alpine records every POST's rows from its start until its answer or its client's death)."""

from __future__ import annotations

import json
import os
import random
import select
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.kit.pgdb import argo_database, argo_rows
from tests.kit.pipeline import alpine_rows, relay_env
from tests.support import AlpineServer, cli, spawn, stop, wait_for

SEED = int(os.environ.get("CHAOS_SEED", "20261202"))
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class OverlapProxy:
    """Forwards to Alpine and records any signal in two POSTs in flight at once. A POST
    stops being in flight when Alpine answers or when its relay's socket closes (killed)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.posts = 0
        self.overlaps: list[str] = []
        self._in_flight: dict[str, int] = {}
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=upstream, timeout=30.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> OverlapProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def in_flight(self) -> int:
        """Rows in POSTs that are neither answered nor abandoned."""
        with self._lock:
            return sum(self._in_flight.values())

    def _enter(self, keys: list[str]) -> None:
        with self._lock:
            self.posts += 1
            for key in keys:
                self._in_flight[key] = self._in_flight.get(key, 0) + 1
                if self._in_flight[key] > 1:
                    self.overlaps.append(key)

    def _leave(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._in_flight[key] -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                self._forward(b"", [])

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._forward(body, _keys(self.path, body))

            def _forward(self, body: bytes, keys: list[str]) -> None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                answer: list[httpx.Response] = []
                call = threading.Thread(
                    target=lambda: answer.append(
                        proxy._client.request(
                            self.command, self.path, content=body, headers=headers
                        )
                    )
                )
                proxy._enter(keys)
                call.start()
                gone = False
                while call.is_alive() and not gone:
                    gone = _client_gone(self.connection)
                    call.join(0.005)
                proxy._leave(keys)
                if gone or not answer:
                    call.join()
                    self.close_connection = True
                    return
                response = answer[0]
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

        return Handler


def _client_gone(conn: socket.socket) -> bool:
    readable, _, _ = select.select([conn], [], [], 0)
    if not readable:
        return False
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _keys(path: str, body: bytes) -> list[str]:
    data = json.loads(body)
    kind = "outcome" if path.endswith("/outcome") else "created"
    items = data["signals"] if isinstance(data, dict) and "signals" in data else [data]
    return [f"{kind}:{item['signal_id']}" for item in items]


@pytest.fixture
def argo_url() -> Iterator[str]:
    with argo_database() as url:
        yield url


def _delivered(url: str) -> int:
    return int(argo_rows(url, "SELECT count(delivered_at) AS n FROM sync_outbox")[0]["n"])


def _assert_exactly_once(alpine_url: str, argo_url: str) -> int:
    stored = alpine_rows(alpine_url)
    sent = {r["signal_id"]: r["sha256"] for r in argo_rows(argo_url, "SELECT * FROM signals")}
    assert len(stored) == len(sent), f"{len(sent) - len(stored)} lost"
    assert len({signal_id for signal_id, _ in stored}) == len(stored), "duplicates"
    assert dict(stored) == sent, "hash mismatch"
    return len(stored)


def _relays(env: dict[str, str], tmp_path: Path, count: int) -> list[subprocess.Popen[bytes]]:
    return [
        spawn("relay", "run", env=env, log=tmp_path / f"relay-start-{i}.log") for i in range(count)
    ]


def _kill_storm(
    signals: int, kills: int, alpine: AlpineServer, pg_url: str, argo_url: str, tmp_path: Path
) -> None:
    with OverlapProxy(alpine.url) as proxy:
        env = relay_env(
            alpine, tmp_path, ARGO_DB=argo_url, ALPINE_API_URL=proxy.url, RELAY_BATCH_SIZE="20"
        )
        result = cli("argo", "generate", "--count", str(signals), "--batch-size", "100", env=env)
        assert result.returncode == 0, result.stderr
        rng = random.Random(SEED + signals)
        relays = _relays(env, tmp_path, 3)
        started = time.monotonic()
        try:
            step = max(signals // (kills + 2), 1)
            for number in range(kills):
                target = min(_delivered(argo_url) + rng.randint(1, step), signals - 1)
                wait_for(
                    lambda target=target: _delivered(argo_url) >= target,  # type: ignore[misc]
                    timeout=60,
                    interval=0.005,
                    what=f"kill {number}: {target} delivered",
                )
                victim = rng.randrange(len(relays))
                assert relays[victim].poll() is None, "a relay exited by itself"
                os.kill(relays[victim].pid, signal.SIGKILL)
                relays[victim].wait(10)
                log = tmp_path / f"relay-{number}.log"
                relays[victim] = spawn("relay", "run", env=env, log=log)
            wait_for(lambda: _delivered(argo_url) == signals, timeout=90, what="the drain")
            elapsed = time.monotonic() - started
            status = cli("relay", "status", env=env)
            assert status.returncode == 0, status.stderr
            assert "3 running" in status.stdout, status.stdout
        finally:
            for relay in relays:
                stop(relay)
        stored = _assert_exactly_once(pg_url, argo_url)
        assert proxy.overlaps == [], f"{len(proxy.overlaps)} rows in flight in two relays"
        print(
            f"\nACCEPTANCE pg-kill-storm: signals={signals} relays=3 kills={kills}"
            f" stored={stored} lost=0 duplicates=0 overlaps=0 posts={proxy.posts}"
            f" seconds={elapsed:.1f}"
        )


def test_three_relays_killed_at_random_lose_and_duplicate_nothing(
    alpine: AlpineServer, pg_url: str, argo_url: str, tmp_path: Path
) -> None:
    _kill_storm(1200, 9, alpine, pg_url, argo_url, tmp_path)


@pytest.mark.soak
def test_three_relays_ten_thousand_signals_thirty_kills(
    alpine: AlpineServer, pg_url: str, argo_url: str, tmp_path: Path
) -> None:
    _kill_storm(10_000, 30, alpine, pg_url, argo_url, tmp_path)


def test_two_generators_on_two_hosts_while_two_relays_deliver(
    alpine: AlpineServer, pg_url: str, argo_url: str, tmp_path: Path
) -> None:
    with OverlapProxy(alpine.url) as proxy:
        env = relay_env(alpine, tmp_path, ARGO_DB=argo_url, ALPINE_API_URL=proxy.url)
        relays = _relays(env, tmp_path, 2)
        try:
            producers = [
                spawn(
                    "argo",
                    "generate",
                    "--count",
                    "300",
                    "--batch-size",
                    "5",
                    "--symbols",
                    symbols,
                    env=env | {"ARGO_AUDIT_LOG": str(tmp_path / f"audit-{n}.log")},
                    log=tmp_path / f"argo-{n}.log",
                )
                for n, symbols in enumerate(["AAPL,NVDA,TSLA", "MSFT,BTC-USD,ETH-USD"])
            ]
            for n, producer in enumerate(producers):
                assert producer.wait(120) == 0, (tmp_path / f"argo-{n}.log").read_text()
            wait_for(lambda: _delivered(argo_url) == 600, timeout=60, what="600 delivered")
            report = json.loads(cli("relay", "status", "--json", env=env).stdout)
            assert report["relays_running"] == 2 and report["pending"] == 0
            assert all(r["alive"] and r["host"] and r["pid"] for r in report["relays"])
            assert report["table"]["total_bytes"] > 0 and report["table"]["live_rows"] >= 0
        finally:
            for relay in relays:
                stop(relay)
    assert _assert_exactly_once(pg_url, argo_url) == 600
    assert proxy.overlaps == []


class _SlowUpstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(0.4)  # the upstream is slow on purpose: POSTs overlap at the proxy
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def test_the_proxy_sees_two_live_posts_of_a_row_but_not_a_dead_clients() -> None:
    """The instrument itself: two live POSTs of one signal overlap; a POST whose client
    died stops counting at once, so the next holder's POST is no overlap."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _SlowUpstream)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    host, port = upstream.server_address[:2]
    body = json.dumps({"signal_id": "0123456789abcdef"}).encode()
    try:
        with OverlapProxy(f"http://{host!s}:{port}") as proxy:
            target = proxy.url.removeprefix("http://").split(":")
            dead = socket.create_connection((target[0], int(target[1])))
            dead.sendall(
                b"POST /api/v1/argo/sync/signal HTTP/1.1\r\nHost: x\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            wait_for(lambda: proxy.posts == 1, timeout=5, what="the first POST")
            dead.close()  # the relay was killed mid-POST
            wait_for(lambda: proxy.in_flight() == 0, timeout=5, what="the proxy to see it")
            with httpx.Client(base_url=proxy.url) as client:
                client.post("/api/v1/argo/sync/signal", content=body)
                assert proxy.overlaps == []
                both = [
                    threading.Thread(
                        target=lambda: client.post("/api/v1/argo/sync/signal", content=body)
                    )
                    for _ in range(2)
                ]
                for thread in both:
                    thread.start()
                for thread in both:
                    thread.join(10)
            assert proxy.overlaps == ["created:0123456789abcdef"]
    finally:
        upstream.shutdown()
        upstream.server_close()


def test_a_relay_whose_database_connection_dies_exits_1_in_one_line(
    alpine: AlpineServer, argo_url: str, tmp_path: Path
) -> None:
    """PostgreSQL restarting under a relay ends it with exit 1 and one line (systemd restarts
    it); the rows it held stay pending for the next relay."""
    env = relay_env(alpine, tmp_path, ARGO_DB=argo_url)
    log = tmp_path / "relay.log"
    relay = spawn("relay", "run", env=env, log=log)
    try:
        wait_for(
            lambda: json.loads(cli("relay", "status", "--json", env=env).stdout)["relays_running"],
            what="the relay's heartbeat",
        )
        database = argo_url.rsplit("/", 1)[1]
        argo_rows(
            argo_url.rsplit("/", 1)[0] + "/postgres",
            "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity"
            f" WHERE datname = '{database}' AND pid <> pg_backend_pid()",
        )
        result = cli("argo", "generate", "--count", "5", env=env)
        assert result.returncode == 0, result.stderr
        assert relay.wait(30) == 1
    finally:
        stop(relay)
    text = log.read_text()
    assert "Traceback" not in text, text
    assert "relay: lost Argo's PostgreSQL outbox (ARGO_DB)" in text, text
