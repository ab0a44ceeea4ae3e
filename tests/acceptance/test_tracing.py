"""A signal's trace across real `argo run`, `relay run` and `alpine serve` processes,
exported over OTLP/HTTP to a receiver on loopback (tests/kit/otlp.py): one trace per
signal with spans from all three services, parented argo → relay → alpine, and the
live stream's delivery linked to the ingest. Tracing off imports nothing of
opentelemetry."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.kit.alpine import add_subscribers
from tests.kit.otlp import ReceivedSpan, Receiver, otlp_receiver
from tests.support import (
    ROOT,
    AlpineServer,
    cli,
    new_api_key,
    new_signing_secret,
    spawn,
    start_alpine,
    stop,
    wait_for,
)

ALPINE_ENV = {"ALPINE_RATE_LIMIT": "0", "ALPINE_SUBSCRIBER_RATE_LIMIT": "0"}


def otel_env(receiver: Receiver) -> dict[str, str]:
    """The standard variables that turn tracing on, exporting to `receiver` quickly."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}


def stored_signals(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db, timeout=30) as conn:
        try:
            return [r[0] for r in conn.execute("SELECT signal_id FROM signals ORDER BY id")]
        except sqlite3.OperationalError:
            return []


def run_argo(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    return spawn(
        "argo",
        "-vv",
        "run",
        "--interval",
        "0.05",
        "--metrics-port",
        "0",
        "--threshold",
        "60",
        *extra,
        env={
            "ARGO_DB": str(tmp_path / "signals.db"),
            "ARGO_AUDIT_LOG": str(tmp_path / "signals.log"),
            **env,
        },
        log=tmp_path / "argo.log",
    )


def run_relay(tmp_path: Path, alpine: AlpineServer, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return spawn(
        "relay",
        "-vv",
        "run",
        env={
            "ARGO_DB": str(tmp_path / "signals.db"),
            "ALPINE_API_URL": alpine.url,
            "ARGO_API_KEY": alpine.api_key,
            "ALPINE_SIGNING_SECRET": alpine.signing_secret or "",
            "RELAY_METRICS_PORT": "0",
            **env,
        },
        log=tmp_path / "relay.log",
    )


def sigterm(process: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM and a clean exit (its last spans are flushed on the way out)."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, log.read_text()


@contextmanager
def subscriber(alpine: AlpineServer, token: str) -> Iterator[list[str]]:
    """An open live stream (elite: no delay); the `event:` lines it reads, as they come."""
    seen: list[str] = []
    opened = threading.Event()
    client = httpx.Client(base_url=alpine.url, timeout=httpx.Timeout(5.0, read=None))

    def read() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            with client.stream("GET", "/api/v1/signals/stream", headers=headers) as response:
                opened.set()
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        seen.append(line)
        except httpx.HTTPError:
            pass  # closed at the end of the test

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    assert opened.wait(10), "the stream did not open"
    try:
        yield seen
    finally:
        client.close()
        thread.join(10)


def trace_of(spans: list[ReceivedSpan], signal_id: str) -> list[ReceivedSpan] | None:
    """Every span of the trace Argo started for `signal_id`, once the relay's and
    Alpine's spans came too."""
    roots = [
        s
        for s in spans
        if s.name == "argo signal" and s.attributes.get("argo.signal_id") == signal_id
    ]
    if not roots:
        return None
    trace = [s for s in spans if s.trace_id == roots[0].trace_id]
    return trace if {s.service for s in trace} >= {"relay", "alpine"} else None


def assert_parented(trace: list[ReceivedSpan], signal_id: str) -> ReceivedSpan:
    """argo signal (root; bar read, consensus, commit) ← relay send ← alpine ingest; the
    ingest span."""
    by_name = {}
    for span in trace:
        by_name.setdefault((span.service, span.name), span)
    assert {s.service for s in trace} == {"argo", "relay", "alpine"}
    root = by_name["argo", "argo signal"]
    assert root.parent_id == ""
    for phase in ("bar read", "consensus", "commit"):
        assert by_name["argo", phase].parent_id == root.span_id
    assert root.attributes["argo.stored"] is True
    send = by_name["relay", "relay send signal.created"]
    assert send.parent_id == root.span_id and send.kind == "client"
    assert send.attributes["relay.answer"] == "acknowledged"
    assert send.attributes["relay.signal_id"] == signal_id
    assert ":relay-" in str(send.attributes["relay.id"])  # host:relay-N
    ingest = by_name["alpine", "alpine ingest signal"]
    assert ingest.parent_id == send.span_id and ingest.kind == "server"
    assert ingest.attributes["alpine.signal_id"] == signal_id
    return ingest


def linked(spans: list[ReceivedSpan], ingest: ReceivedSpan) -> bool:
    return any(
        s.name == "alpine stream deliver" and (ingest.trace_id, ingest.span_id) in s.links
        for s in spans
    )


@pytest.fixture
def traced(pg_url: str, tmp_path: Path) -> Iterator[tuple[Receiver, AlpineServer, str]]:
    """The receiver, a traced Alpine, and an elite subscriber's token."""
    with otlp_receiver() as receiver:
        server = start_alpine(
            pg_url,
            tmp_path,
            api_keys=[new_api_key()],
            signing_secret=new_signing_secret(),
            extra_env=ALPINE_ENV | otel_env(receiver),
            verbose=True,
        )
        try:
            token = add_subscribers(pg_url, {"follower": "elite"})["follower"]
            yield receiver, server, token
        finally:
            stop(server.process)


def test_one_signal_is_one_trace_across_argo_relay_and_alpine(
    traced: tuple[Receiver, AlpineServer, str], tmp_path: Path
) -> None:
    receiver, alpine, token = traced
    db = tmp_path / "signals.db"
    env = otel_env(receiver)
    with subscriber(alpine, token) as events:
        argo = run_argo(tmp_path, env, "--symbols", "AAPL")
        try:
            first = wait_for(lambda: stored_signals(db)[:1], timeout=60, what="a signal")[0]
            relay = run_relay(tmp_path, alpine, env)
            try:
                spans = receiver.wait_for(lambda s: trace_of(s, first) is not None)
                trace = trace_of(spans, first)
                assert trace is not None
                ingest = assert_parented(trace, first)
                receiver.wait_for(lambda s: linked(s, ingest))
                assert any(line == "event: signal" for line in events)
            finally:
                sigterm(relay, tmp_path / "relay.log")
        finally:
            sigterm(argo, tmp_path / "argo.log")
    for log in (tmp_path / "argo.log", tmp_path / "relay.log", alpine.log):
        assert f"trace_id={ingest.trace_id}" in log.read_text(), log  # lines name the trace
    shown = cli("relay", "trace", first, env={"ARGO_DB": str(db)})
    assert f"trace               {ingest.trace_id}" in shown.stdout, shown.stdout + shown.stderr


def test_each_item_of_a_batch_lands_in_its_own_signals_trace(
    traced: tuple[Receiver, AlpineServer, str], tmp_path: Path
) -> None:
    receiver, alpine, _ = traced
    db = tmp_path / "signals.db"
    env = otel_env(receiver)
    argo = run_argo(tmp_path, env)
    try:
        wait_for(lambda: len(stored_signals(db)) >= 4, timeout=60, what="four signals")
    finally:
        sigterm(argo, tmp_path / "argo.log")
    waiting = stored_signals(db)  # all in the outbox before the relay starts: one batch
    relay = run_relay(tmp_path, alpine, env)
    try:
        spans = receiver.wait_for(lambda s: all(trace_of(s, i) for i in waiting))
    finally:
        sigterm(relay, tmp_path / "relay.log")
    trace_ids = set()
    for signal_id in waiting:
        trace = trace_of(spans, signal_id)
        assert trace is not None
        assert_parented(trace, signal_id)
        (send,) = [s for s in trace if s.service == "relay"]
        assert int(send.attributes["relay.batch_size"]) >= 2  # went in a batch POST
        trace_ids.add(trace[0].trace_id)
    assert len(trace_ids) == len(waiting)


OFF_CHECK = """
import os, sys
from {package} import {cli}
from {tracing} import configure
assert not configure("{service}", os.environ).on
loaded = sorted(m for m in sys.modules if m.startswith({forbidden}))
assert not loaded, loaded
print("clean")
"""
# FastAPI (0.16x) imports the opentelemetry *API* itself (fastapi.telemetry), tracing or
# not: for Alpine, off means no SDK, no exporter and no alpine.otel.
PROCESSES = {
    "argo": ("argo.cli", "main", "argo.process.tracing", ("opentelemetry", "argo.process.otel")),
    "relay": ("relay", "cli", "argo.process.tracing", ("opentelemetry", "argo.process.otel")),
    "alpine": (
        "alpine",
        "app",
        "alpine.tracing",
        ("opentelemetry.sdk", "opentelemetry.exporter", "alpine.otel"),
    ),
}


@pytest.mark.parametrize("service", sorted(PROCESSES))
@pytest.mark.parametrize(
    "otel",
    [{}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"}],
    ids=["unset", "disabled"],
)
def test_tracing_off_imports_no_tracing_code(service: str, otel: dict[str, str]) -> None:
    package, cli, tracing, forbidden = PROCESSES[service]
    script = OFF_CHECK.format(
        package=package, cli=cli, tracing=tracing, service=service, forbidden=forbidden
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | otel
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0 and "clean" in result.stdout, result.stderr
