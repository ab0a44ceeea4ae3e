"""Alpine's ingest path alone: requests/s on the single endpoint, signals/s on the batch one.

`python -m tests.bench.alpine_ingest` creates a throwaway PostgreSQL database, starts a
real `alpine serve` on 127.0.0.1 (signed requests, rate limit off: as `make bench`
runs it) and sends it valid signals built with Argo's own code, signed as the relay
signs them. Each figure is the median of `--runs` runs; every loop is bounded in
count and time. `--alpine-url` (with `--api-key`, `--signing-secret`, `--database-url`)
drives an Alpine started elsewhere instead, e.g. under a profiler.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from standardwebhooks import Webhook

from alpine.migrations import upgrade
from alpine.store import make_engine
from argo.outbox import encode_payload
from tests.bench.backlog import _signal
from tests.bench.stats import Figure, repeat
from tests.bench.stream import cpu_seconds
from tests.kit.pgdb import conninfo, create_database, drop_database, url_for
from tests.support import new_api_key, new_signing_secret, start_alpine, stop

BATCH = 500
DEADLINE_S = 120.0  # per run: a stuck server fails the bench instead of hanging it


@dataclass(frozen=True)
class Target:
    url: str
    api_key: str
    signing_secret: str | None
    database_url: str
    pid: int | None = None  # Alpine's process, to read its CPU time


@dataclass(frozen=True)
class Result:
    rate: Figure
    cpu_ms_per_item: float | None  # Alpine's CPU per signal, median of the runs


def payloads(count: int, first: int = 0) -> list[bytes]:
    """`count` distinct valid wire payloads, as the relay sends them."""
    start = datetime(2026, 12, 1, tzinfo=UTC)
    return [
        encode_payload(_signal(n, start).to_payload()).encode() for n in range(first, first + count)
    ]


def _headers(target: Target, message_id: str, body: bytes) -> dict[str, str]:
    headers = {"X-API-Key": target.api_key, "Content-Type": "application/json"}
    if target.signing_secret:
        now = datetime.now(UTC)
        headers["webhook-id"] = message_id
        headers["webhook-timestamp"] = str(int(now.timestamp()))
        headers["webhook-signature"] = Webhook(target.signing_secret).sign(
            message_id, now, body.decode()
        )
    return headers


def _truncate(target: Target) -> None:
    with psycopg.connect(conninfo(target.database_url)) as conn:
        conn.execute("TRUNCATE signals RESTART IDENTITY CASCADE")


def _post_all(
    target: Target, path: str, bodies: list[bytes], threads: int, expect: Callable[[int], bool]
) -> float:
    """Seconds to POST every body (signed beforehand), `threads` at a time."""
    signed = [(body, _headers(target, f"evt_bench_{i}", body)) for i, body in enumerate(bodies)]
    deadline = time.monotonic() + DEADLINE_S
    local = threading.local()
    clients: list[httpx.Client] = []

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=target.url, timeout=30.0)
            clients.append(local.client)
        return local.client  # type: ignore[no-any-return]

    def send(item: tuple[bytes, dict[str, str]]) -> None:
        if time.monotonic() > deadline:
            raise TimeoutError("the ingest benchmark ran past its deadline")
        status = client().post(path, content=item[0], headers=item[1]).status_code
        if not expect(status):
            raise AssertionError(f"{path} answered {status}")

    try:
        with ThreadPoolExecutor(threads) as pool:
            started = time.perf_counter()
            list(pool.map(send, signed))
            return time.perf_counter() - started
    finally:
        for each in clients:
            each.close()


def _measured(
    target: Target, path: str, bodies: list[bytes], items: int, threads: int, status: int, runs: int
) -> Result:
    """`items` signals per second over `runs` runs, and Alpine's CPU per signal."""
    cpu: list[float] = []

    def measure() -> float:
        _truncate(target)
        before = cpu_seconds(target.pid) if target.pid else 0.0
        seconds = _post_all(target, path, bodies, threads, lambda s: s == status)
        if target.pid:
            cpu.append((cpu_seconds(target.pid) - before) * 1000 / items)
        return items / seconds

    rate = repeat(measure, runs)
    return Result(rate, statistics.median(cpu) if cpu else None)


def single_rate(target: Target, count: int, threads: int, runs: int) -> Result:
    """Signals (= requests) per second, one signal per POST, `threads` in flight."""
    bodies = payloads(count)
    return _measured(target, "/api/v1/argo/sync/signal", bodies, count, threads, 201, runs)


def batch_rate(target: Target, batches: int, runs: int) -> Result:
    """Signals per second, 500 per POST, one POST at a time (as the relay's drain)."""
    items = payloads(batches * BATCH)
    bodies = [
        b'{"signals":[' + b",".join(items[i : i + BATCH]) + b"]}"
        for i in range(0, len(items), BATCH)
    ]
    return _measured(target, "/api/v1/argo/sync/signals", bodies, len(items), 1, 200, runs)


def _line(what: str, unit: str, result: Result) -> str:
    rate = result.rate
    line = (
        f"{what}: {rate.median:,.0f} {unit}/s ({rate.low:,.0f}-{rate.high:,.0f}, {rate.runs} runs)"
    )
    if result.cpu_ms_per_item is not None:
        line += f"; Alpine CPU {result.cpu_ms_per_item:.3f} ms per signal"
    return line


@contextmanager
def _own_alpine() -> Iterator[Target]:
    name = create_database("argo_alpine_bench_ingest")
    url = url_for(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        with tempfile.TemporaryDirectory(prefix="alpine-ingest-") as workdir:
            secret, key = new_signing_secret(), new_api_key()
            server = start_alpine(
                url,
                Path(workdir),
                api_keys=[key],
                signing_secret=secret,
                extra_env={"ALPINE_RATE_LIMIT": "0"},
            )
            try:
                yield Target(server.url, key, secret, url, server.process.pid)
            finally:
                stop(server.process)
    finally:
        drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--single", type=int, default=1500, help="signals, one per POST")
    parser.add_argument("--threads", type=int, default=1, help="single POSTs in flight")
    parser.add_argument("--batches", type=int, default=20, help="POSTs of 500 signals")
    parser.add_argument("--alpine-url")
    parser.add_argument("--api-key")
    parser.add_argument("--signing-secret")
    parser.add_argument("--database-url")
    parser.add_argument("--alpine-pid", type=int, help="to report its CPU time")
    args = parser.parse_args()

    @contextmanager
    def given() -> Iterator[Target]:
        yield Target(
            args.alpine_url, args.api_key, args.signing_secret, args.database_url, args.alpine_pid
        )

    with given() if args.alpine_url else _own_alpine() as target:
        if args.single:
            result = single_rate(target, args.single, args.threads, args.runs)
            print(_line(f"single, {args.threads} in flight", "requests", result))
        if args.batches:
            result = batch_rate(target, args.batches, args.runs)
            print(_line(f"batch of {BATCH}", "signals", result))


if __name__ == "__main__":
    main()
