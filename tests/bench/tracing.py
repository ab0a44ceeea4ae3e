"""What tracing costs on the steady 100/s path (issue 25): commit -> stored in Alpine with
tracing off and on, in interleaved rounds (off, on, off, on, ...).

On, every hop traces as `argo run`, `relay run` and `alpine serve` do with OTEL_* set:
each signal's span is started and its traceparent committed with the outbox row (here
in the bench process, with `TraceBook` as the generator uses it), the relay's send span
and Alpine's ingest span are exported by their processes, all over OTLP/HTTP to a sink
in a process of its own on loopback that reads each request and answers 200 (a
collector on the host, without its own work). Two Alpines, one traced, on two
databases of the same cluster, so the rounds need no restart. Reported: latency per
arm, the on/off ratio per round, CPU milliseconds per signal of the relay and Alpine
processes, the producer's span work per signal, and the bytes exported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from alpine.migrations import upgrade
from alpine.store import make_engine
from argo.process.otel import OtelTracing
from argo.process.spans import Tracing
from argo.process.trace_book import TraceBook
from argo.signal import Signal
from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.bench.latency import _figures, _latencies, _signals
from tests.bench.pipeline import Bench, Latency
from tests.kit.pgdb import create_database, drop_database, url_for
from tests.kit.pipeline import outbox_counts
from tests.support import (
    ROOT,
    AlpineServer,
    child_env,
    new_api_key,
    new_signing_secret,
    spawn,
    start_alpine,
    stop,
    wait_for,
)

ARMS = ("off", "on")
RATE = 100.0
_TICK = os.sysconf("SC_CLK_TCK")


class Sink:
    """The OTLP sink child (tests/bench/otlp_sink.py): its URL and what it took."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"

    @property
    def bytes(self) -> int:
        return int(httpx.get(f"{self.url}/count", timeout=5).text.split()[1])


@contextmanager
def sink() -> Iterator[Sink]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.otlp_sink"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=child_env({}),
    )
    try:
        assert process.stdout is not None
        yield Sink(process, int(process.stdout.readline()))
    finally:
        process.terminate()
        process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


@dataclass(frozen=True)
class Arm:
    latency: Latency
    relay_cpu_ms: float  # per signal, from "relay started" to the drain
    alpine_cpu_ms: float  # per signal, over the same run
    producer_span_us: float  # per signal: the producer's span work (0 off)
    exported_bytes: int


def _run(
    bench: Bench,
    tracing: Tracing,
    otel: dict[str, str],
    exports: Sink,
    seconds: float,
    warmup: float,
) -> Arm:
    """One arm: paced commits at 100/s with the relay running; tracing as given."""
    env = bench.fresh("tracing-on" if tracing.on else "tracing-off") | otel
    db = Path(env["ARGO_DB"])
    store = open_signals(db)
    book = TraceBook(tracing)
    span_seconds = [0.0]

    def commit(made: Signal) -> None:
        if not tracing.on:
            store.add(made, utc_now())
            return
        started = time.perf_counter()
        book.begin(
            made.signal_id, "argo signal", time.time_ns(), {"argo.signal_id": made.signal_id}
        )
        traces = book.traces([made.signal_id])
        middle = time.perf_counter()
        committed_ns = time.time_ns()
        store.add_many([made], utc_now(), traces)
        resumed = time.perf_counter()
        book.committed([made.signal_id], committed_ns, {made.signal_id})
        span_seconds[0] += (middle - started) + (time.perf_counter() - resumed)

    log = db.parent / "relay.log"
    relay = spawn("relay", "run", env=env, log=log)
    bytes_before = exports.bytes
    try:
        wait_for(lambda: "relay started" in log.read_text(), what="relay start")
        relay_cpu, alpine_cpu = cpu_seconds(relay.pid), cpu_seconds(bench.alpine.process.pid)
        sent = _paced_commits(commit, seconds + warmup)
        wait_for(lambda: outbox_counts(db)[0] == sent, timeout=60, what="steady-state drain")
        relay_cpu = cpu_seconds(relay.pid) - relay_cpu
        alpine_cpu = cpu_seconds(bench.alpine.process.pid) - alpine_cpu
    finally:
        stop(relay)
        store.close()
    lags = _latencies(bench, db, int(RATE * warmup))
    return Arm(
        _figures(sent / (seconds + warmup), lags),
        1000 * relay_cpu / sent,
        1000 * alpine_cpu / sent,
        1e6 * span_seconds[0] / sent,
        exports.bytes - bytes_before,
    )


def _paced_commits(commit: Callable[[Signal], None], seconds: float) -> int:
    """`commit` a new signal every 1/RATE s for `seconds`; how many."""
    next_signal = _signals()
    interval, started, sent = 1.0 / RATE, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        commit(next_signal())
        sent += 1
        pause = started + sent * interval - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    return sent


@contextmanager
def _alpine(work: Path, name: str, otel: dict[str, str]) -> Iterator[tuple[AlpineServer, str]]:
    database = create_database(name)
    engine = make_engine(url_for(database))
    upgrade(engine)
    engine.dispose()
    server = start_alpine(
        url_for(database),
        work,
        api_keys=[new_api_key()],
        signing_secret=new_signing_secret(),
        extra_env={"ALPINE_RATE_LIMIT": "0"} | otel,
    )
    try:
        yield server, url_for(database)
    finally:
        stop(server.process)
        drop_database(database)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """`values` in os.environ while the block runs (the SDK's exporter reads them there)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def measure(
    work: Path, rounds: int, seconds: float, warmup: float, say: Callable[[str], None]
) -> dict[str, Any]:
    """`rounds` interleaved rounds of tracing off and on at 100/s; the figures."""
    arms: dict[str, list[Arm]] = {arm: [] for arm in ARMS}
    with sink() as exports:
        otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": exports.url}
        with _environ(otel):
            producer = OtelTracing("argo", os.environ)
        with (
            _alpine(work, "argo_alpine_bench_trace_off", {}) as (plain, plain_url),
            _alpine(work, "argo_alpine_bench_trace_on", otel) as (traced, traced_url),
        ):
            setups = {
                "off": (Bench(plain, plain_url, work), Tracing(), {}),
                "on": (Bench(traced, traced_url, work), producer, otel),
            }
            for n in range(rounds):
                for arm in ARMS:
                    bench, tracing, env = setups[arm]
                    result = _run(bench, tracing, env, exports, seconds, warmup)
                    arms[arm].append(result)
                    say(
                        f"tracing round {n + 1}/{rounds} {arm}: p50/p99"
                        f" {result.latency.p50_ms:.2f}/{result.latency.p99_ms:.2f} ms,"
                        f" relay {result.relay_cpu_ms:.3f} + alpine {result.alpine_cpu_ms:.3f}"
                        f" CPU ms/signal, producer spans {result.producer_span_us:.0f} us/signal"
                    )
        producer.shutdown()
    return _summary(arms)


def _median(values: list[float], digits: int = 3) -> float:
    return round(statistics.median(values), digits) if values else 0.0


def _summary(arms: dict[str, list[Arm]]) -> dict[str, Any]:
    """Medians over the rounds as `tracing_*` keys; every round under `tracing`."""
    out: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    for arm, runs in arms.items():
        out[f"tracing_{arm}_p50_ms"] = _median([r.latency.p50_ms for r in runs], 2)
        out[f"tracing_{arm}_p99_ms"] = _median([r.latency.p99_ms for r in runs], 2)
        out[f"tracing_{arm}_relay_cpu_ms_per_signal"] = _median([r.relay_cpu_ms for r in runs])
        out[f"tracing_{arm}_alpine_cpu_ms_per_signal"] = _median([r.alpine_cpu_ms for r in runs])
    out["tracing_on_producer_span_us_per_signal"] = _median(
        [r.producer_span_us for r in arms["on"]], 1
    )
    out["tracing_on_exported_bytes_per_signal"] = _median(
        [r.exported_bytes / max(r.latency.signals, 1) for r in arms["on"]], 0
    )
    for q in ("p50", "p99"):  # reported, not a target: the issue asks for the cost
        per_round = [
            getattr(on.latency, f"{q}_ms") / getattr(off.latency, f"{q}_ms")
            for on, off in zip(arms["on"], arms["off"], strict=True)
            if getattr(off.latency, f"{q}_ms")
        ]
        out[f"tracing_on_vs_off_{q}_ratio"] = _median(per_round)
        detail[f"on_vs_off_{q}_ratio_rounds"] = [round(r, 3) for r in per_round]
    detail["rounds"] = {
        arm: [
            {
                "p50_ms": round(r.latency.p50_ms, 2),
                "p99_ms": round(r.latency.p99_ms, 2),
                "signals": r.latency.signals,
                "relay_cpu_ms_per_signal": round(r.relay_cpu_ms, 3),
                "alpine_cpu_ms_per_signal": round(r.alpine_cpu_ms, 3),
                "producer_span_us_per_signal": round(r.producer_span_us, 1),
            }
            for r in runs
        ]
        for arm, runs in arms.items()
    }
    out["tracing"] = detail
    return out
