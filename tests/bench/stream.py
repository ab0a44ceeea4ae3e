"""Live feed and ingest figures: many stream subscribers on one Alpine, and ingest
requests per second with one and with two workers.

The subscribers run in a child process (`python -m tests.bench.stream subscribe`):
one asyncio loop holding every SSE connection, so their reading does not compete
with the sender for one interpreter. Every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.bench.stats import percentile
from tests.kit.pgdb import conninfo
from tests.support import ROOT, AlpineServer, child_env, cli, signal_payload

TIERS = ("elite", "pro", "starter")  # subscribers are dealt round-robin over these
TICKS = os.sysconf("SC_CLK_TCK")
STARTER_DELAY = timedelta(minutes=15)
DRAIN_SECONDS = 2.0
WARM_UP_SECONDS = 3.0


@dataclass(frozen=True)
class StreamFigures:
    subscribers: int
    deliveries: int
    expected: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    alpine_cpu_pct: float
    client_cpu_pct: float
    db_queries_per_s: float


def tokens(database_url: str) -> dict[str, str]:
    """One subscriber per tier (streams of a tier share its token)."""
    found = {}
    for tier in TIERS:
        result = cli(
            "alpine",
            "subscribers",
            "add",
            f"bench-{tier}",
            "--tier",
            tier,
            env={"ALPINE_DATABASE_URL": database_url},
        )
        assert result.returncode == 0, result.stderr
        found[tier] = result.stdout.strip().splitlines()[-1]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its (reaped or live) worker children."""
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15]) / TICKS  # utime stime cutime cstime
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def db_queries(server: AlpineServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    found = re.search(r"^alpine_db_queries_total ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def stream_run(
    server: AlpineServer, token_of: dict[str, str], subscribers: int, seconds: float, work: Path
) -> StreamFigures:
    """`subscribers` open streams while signals arrive at 10/s for `seconds`."""
    out = work / f"arrivals-{subscribers}.json"
    limit = seconds + WARM_UP_SECONDS + 30
    args = [server.url, str(subscribers), str(limit), str(out), json.dumps(token_of)]
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.stream", "subscribe", *args],
        cwd=ROOT,
        env=child_env({}),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        ready = child.stdout.readline()  # "ready" once every stream is open
        assert ready.strip() == "ready", ready
        # Warm-up, not measured: the objects of 1,000 new connections get promoted
        # through the garbage collector's generations in the first seconds.
        send_paced(server, rate=10.0, seconds=WARM_UP_SECONDS)
        cpu0, q0, t0 = cpu_seconds(server.process.pid), db_queries(server), time.monotonic()
        client0 = cpu_seconds(child.pid)
        sent = send_paced(server, rate=10.0, seconds=seconds)
        wall = time.monotonic() - t0
        cpu1, q1 = cpu_seconds(server.process.pid), db_queries(server)
        client_cpu = (cpu_seconds(child.pid) - client0) / wall
        time.sleep(DRAIN_SECONDS)  # let the last starter releases (due 1 s after sending) land
        child.stdout.close()
        child.terminate()  # it writes its arrivals on SIGTERM
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    arrivals: dict[str, dict[str, list[float]]] = json.loads(out.read_text())
    cpu = ((cpu1 - cpu0) / wall, client_cpu)
    return _figures(subscribers, sent, arrivals, cpu, (q1 - q0) / wall)


def _figures(
    subscribers: int,
    sent: dict[str, tuple[float, float]],
    arrivals: dict[str, dict[str, list[float]]],
    cpu: tuple[float, float],
    qps: float,
) -> StreamFigures:
    latencies: list[float] = []
    per_tier = {t: len(range(i, subscribers, len(TIERS))) for i, t in enumerate(TIERS)}
    expected = 0
    for signal_id, (acked, due) in sent.items():
        for tier, times in arrivals.get(signal_id, {}).items():
            visible = max(acked, due) if tier == "starter" else acked
            latencies += [(t - visible) * 1000 for t in times]
        due_in_run = due < acked + 60  # the others are due for starter 15 minutes on
        expected += per_tier["elite"] + per_tier["pro"] + (per_tier["starter"] if due_in_run else 0)
    return StreamFigures(
        subscribers,
        len(latencies),
        expected,
        percentile(latencies, 50),
        percentile(latencies, 99),
        max(latencies, default=0.0),
        round(100 * cpu[0], 1),
        round(100 * cpu[1], 1),
        round(qps, 1),
    )


def send_paced(server: AlpineServer, rate: float, seconds: float) -> dict[str, tuple[float, float]]:
    """POST signals at `rate`/s; every second one is due for starter 1 s after sending.

    Returns signal_id -> (acknowledged at, due for starter at), wall-clock seconds."""
    sent: dict[str, tuple[float, float]] = {}
    count = int(rate * seconds)
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for i in range(count):
            pause = started + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing, not waiting for a condition
            now = datetime.now(UTC)
            moment = now - STARTER_DELAY + timedelta(seconds=1) if i % 2 else now
            payload = signal_payload(
                timestamp=moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                confidence=97.0,
                entry_price=170.0 + i / 1000,
            )
            answer = client.post(
                "/api/v1/argo/sync/signal", json=payload, headers={"X-API-Key": server.api_key}
            )
            assert answer.status_code == 201, answer.text
            due = (moment + STARTER_DELAY).timestamp()
            sent[payload["signal_id"]] = (time.time(), due)
    return sent


def ingest_rate(server: AlpineServer, total: int, threads: int, seconds: float) -> float:
    """Single-signal POSTs per second from `threads` clients, `total` at most."""
    payloads = [
        signal_payload(timestamp=f"2026-11-22T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z")
        for i in range(total)
    ]
    done = [0] * threads
    deadline = time.monotonic() + seconds
    gate = threading.Barrier(threads + 1)

    def post(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            gate.wait(30)
            for body in payloads[worker::threads]:
                if time.monotonic() > deadline:
                    return
                answer = client.post(
                    "/api/v1/argo/sync/signal", json=body, headers={"X-API-Key": server.api_key}
                )
                assert answer.status_code in (200, 201), answer.text
                done[worker] += 1

    pool = [threading.Thread(target=post, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    gate.wait(30)
    started = time.monotonic()
    for thread in pool:
        thread.join(seconds + 30)
    return sum(done) / (time.monotonic() - started)


# ----- the child process: many SSE streams on one asyncio loop -----


async def _stream(
    url: str, token: str, tier: str, opened: asyncio.Event, log: dict[str, dict[str, list[float]]]
) -> None:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET /api/v1/signals/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    try:
        while line := await reader.readline():
            if line.startswith(b"retry:"):
                opened.set()
            elif line.startswith(b"data:"):
                now = time.time()
                signal_id = json.loads(line[5:])["signal_id"]
                log.setdefault(signal_id, {}).setdefault(tier, []).append(now)
    finally:
        writer.close()


async def _subscribe(
    url: str, count: int, seconds: float, out: Path, token_of: dict[str, str]
) -> None:
    log: dict[str, dict[str, list[float]]] = {}
    opened = [asyncio.Event() for _ in range(count)]
    tasks = []
    for i in range(count):
        tier = TIERS[i % len(TIERS)]
        tasks.append(asyncio.create_task(_stream(url, token_of[tier], tier, opened[i], log)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)  # do not flood the accept queue
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), timeout=120)
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(15, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
    out.write_text(json.dumps(log))
    for task in tasks:
        task.cancel()


def main(argv: list[str]) -> int:
    _, url, count, seconds, out, token_json = argv
    asyncio.run(_subscribe(url, int(count), float(seconds), Path(out), json.loads(token_json)))
    return 0


def run_all(
    start: Any, database_url: str, work: Path, seconds: float, counts: tuple[int, ...]
) -> dict[str, Any]:
    """The figures for `make bench`: streams at each count, then ingest with 1 and 2 workers.

    `start(workers)` starts an Alpine on `database_url` and returns its AlpineServer."""
    from tests.support import stop

    results: dict[str, Any] = {}
    token_of = tokens(database_url)
    server = start(int(os.environ.get("BENCH_STREAM_WORKERS", "1")))
    try:
        for count in counts:
            figures = stream_run(server, token_of, count, seconds, work)
            for name, value in figures.__dict__.items():
                if name != "subscribers":
                    results[f"stream_{count}_{name}"] = round(value, 2)
    finally:
        stop(server.process)
    for workers in (1, 2):
        with psycopg.connect(conninfo(database_url)) as conn:
            conn.execute("TRUNCATE signals RESTART IDENTITY")
        server = start(workers)
        try:
            cpu0, t0 = cpu_seconds(server.process.pid), time.monotonic()
            rate = ingest_rate(server, total=int(1000 * seconds), threads=8, seconds=seconds)
            cpu = (cpu_seconds(server.process.pid) - cpu0) / (time.monotonic() - t0)
            results[f"ingest_{workers}w_per_s"] = round(rate, 1)
            results[f"ingest_{workers}w_alpine_cpu_pct"] = round(100 * cpu, 1)
        finally:
            stop(server.process)
    return results


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
