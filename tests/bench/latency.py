"""Commit → stored in Alpine, paced: our relay at 100/s and 500/s, relay SIGKILLs during
100/s, and the seeds' design (commit, then an inline POST with 3 tries) as the baseline
every latency is compared with. All against the same Alpine, in the same run.

The comparisons run as interleaved rounds (inline, relay 100/s, relay 500/s, inline, …),
so a slow minute of a shared machine hits both designs alike and each round gives its
own ratio (`interleaved`)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from standardwebhooks import Webhook

from argo.engine.decide import EngineConfig
from argo.generator import SignalFactory, UniqueClock
from argo.outbox import encode_payload
from argo.prices.sources import DEFAULT_SYMBOLS, SyntheticPriceSource
from argo.signal import Signal
from argo.signals import open_signals
from argo.signals.port import SignalStore
from argo.timeutil import from_text, utc_now
from tests.bench.pipeline import Bench, Latency
from tests.bench.stats import percentile
from tests.kit.pgdb import conninfo
from tests.kit.pipeline import outbox_counts
from tests.support import spawn, stop, wait_for

AfterCommit = Callable[[Signal], None]


def _signals() -> Callable[[], Signal]:
    factory = SignalFactory(
        SyntheticPriceSource(DEFAULT_SYMBOLS, 11),
        EngineConfig(base_threshold=0.0, cooldown_bars=0),
        UniqueClock(),
    )
    factory.warm_up(DEFAULT_SYMBOLS)
    index = 0

    def next_signal() -> Signal:
        nonlocal index
        while True:
            made, _ = factory.step(DEFAULT_SYMBOLS[index % len(DEFAULT_SYMBOLS)])
            index += 1
            if made is not None:
                return made

    return next_signal


def _paced(
    store: SignalStore,
    rate: float,
    seconds: float,
    after_commit: AfterCommit | None = None,
    every_second: Callable[[int], None] | None = None,
    slots: list[float] | None = None,
) -> tuple[int, float]:
    """Commit signals at `rate`/s for `seconds` (bounded); (sent, achieved rate). `slots`
    gets each signal's planned time (epoch seconds), in commit order."""
    next_signal = _signals()
    interval, started, sent, ticks = 1.0 / rate, time.perf_counter(), 0, 0
    wall = time.time()
    while time.perf_counter() - started < seconds:
        if slots is not None:
            slots.append(wall + sent * interval)
        made = next_signal()
        store.add(made, utc_now())
        if after_commit is not None:
            after_commit(made)
        sent += 1
        elapsed = time.perf_counter() - started
        if every_second is not None and int(elapsed) > ticks:
            ticks = int(elapsed)
            every_second(ticks)
        pause = started + sent * interval - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    return sent, sent / (time.perf_counter() - started)


def _latencies(
    bench: Bench, db: Path, skip: int = 0, slots: list[float] | None = None
) -> tuple[list[float], list[float]]:
    """Per signal: Argo's commit time → Alpine's received_at, in ms, and the same from
    its planned slot (when `slots` are given); the first `skip` signals committed (the
    warm-up: first connections, first claim) left out."""
    with sqlite3.connect(db) as conn:
        committed = {
            s: from_text(at)
            for s, at in conn.execute("SELECT signal_id, created_at FROM signals ORDER BY rowid")
        }
    with psycopg.connect(conninfo(bench.pg_url)) as conn:
        received = dict(conn.execute("SELECT signal_id, received_at FROM signals"))
    order = list(committed)
    kept = order[skip:]
    lags = [(received[s] - committed[s]).total_seconds() * 1000 for s in kept if s in received]
    planned = slots or []
    from_slot = [
        (received[s].timestamp() - planned[n]) * 1000
        for n, s in enumerate(order)
        if n >= skip and n < len(planned) and s in received
    ]
    return lags, from_slot


def _figures(rate: float, lags: tuple[list[float], list[float]]) -> Latency:
    commit, slot = lags
    return Latency(
        rate,
        percentile(commit, 50),
        percentile(commit, 95),
        percentile(commit, 99),
        max(commit) if commit else 0.0,
        len(commit),
        percentile(slot, 50) if slot else 0.0,
        percentile(slot, 99) if slot else 0.0,
    )


def relay_latency(
    bench: Bench,
    rate: float,
    seconds: float,
    warmup: float = 0.0,
    relay_env: Mapping[str, str] | None = None,
) -> Latency:
    """Our design: the generator commits, the relay process delivers; the first `warmup`
    seconds of signals are sent but not counted. `relay_env`: settings of the relay."""
    env = bench.fresh(f"steady-{rate:.0f}") | dict(relay_env or {})
    db = Path(env["ARGO_DB"])
    store = open_signals(db)
    relay = spawn("relay", "run", env=env, log=db.parent / "relay.log")
    try:
        wait_for(
            lambda: "relay started" in (db.parent / "relay.log").read_text(), what="relay start"
        )
        slots: list[float] = []
        sent, achieved = _paced(store, rate, seconds + warmup, slots=slots)
        wait_for(lambda: outbox_counts(db)[0] == sent, timeout=60, what="steady-state drain")
    finally:
        stop(relay)
        store.close()
    return _figures(achieved, _latencies(bench, db, int(rate * warmup), slots))


def baseline_latency(bench: Bench, rate: float, seconds: float, warmup: float = 0.0) -> Latency:
    """The seeds' design: commit to SQLite, then POST inline (3 tries), no relay; the
    first `warmup` seconds of signals are sent but not counted."""
    env = bench.fresh(f"baseline-{rate:.0f}")
    db = Path(env["ARGO_DB"])
    store = open_signals(db)
    post_inline = inline_poster(bench)
    slots: list[float] = []
    try:
        _, achieved = _paced(store, rate, seconds + warmup, after_commit=post_inline, slots=slots)
    finally:
        post_inline.close()
        store.close()
    return _figures(achieved, _latencies(bench, db, int(rate * warmup), slots))


class InlinePoster:
    """The seeds' inline POST of one signal (signed, 3 tries), on one kept-alive client."""

    def __init__(self, bench: Bench) -> None:
        secret = bench.alpine.signing_secret
        self._webhook = Webhook(secret) if secret else None
        self._key = bench.alpine.api_key
        self._client = httpx.Client(base_url=bench.alpine.url, timeout=10.0)

    def __call__(self, made: Signal) -> None:
        text = encode_payload(made.to_payload())
        headers = {"X-API-Key": self._key, "Content-Type": "application/json"}
        if self._webhook is not None:
            now = datetime.now(UTC)
            headers |= {
                "webhook-id": f"inline_{made.signal_id}",
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": self._webhook.sign(f"inline_{made.signal_id}", now, text),
            }
        for _ in range(3):
            try:
                reply = self._client.post("/api/v1/argo/sync/signal", content=text, headers=headers)
                if reply.is_success:
                    return
            except httpx.HTTPError:
                continue

    def close(self) -> None:
        self._client.close()


def inline_poster(bench: Bench) -> InlinePoster:
    return InlinePoster(bench)


# (key prefix, design, signals/s), in the order each round runs them.
ARMS: tuple[tuple[str, str, float], ...] = (
    ("baseline_100", "inline", 100.0),
    ("latency_100", "relay", 100.0),
    ("latency_500", "relay", 500.0),
)


@dataclass(frozen=True)
class Rounds:
    """Per arm (`ARMS`' key prefix), one Latency per round, and the 1-minute load average
    read before each run (the machine is shared: the load says what else ran)."""

    runs: dict[str, list[Latency]] = field(default_factory=dict)
    load: dict[str, list[float]] = field(default_factory=dict)


def interleaved(
    bench: Bench,
    rounds: int,
    seconds: float,
    warmup: float,
    progress: Callable[[str], None] = lambda _: None,
) -> Rounds:
    """`rounds` rounds of every arm in `ARMS`, each run `seconds` long after `warmup`."""
    result = Rounds({key: [] for key, _, _ in ARMS}, {key: [] for key, _, _ in ARMS})
    for n in range(rounds):
        for key, design, rate in ARMS:
            measure = baseline_latency if design == "inline" else relay_latency
            result.load[key].append(os.getloadavg()[0])
            figure = measure(bench, rate, seconds, warmup)
            result.runs[key].append(figure)
            progress(
                f"round {n + 1}/{rounds} {key}: p50/p99/max {figure.p50_ms:.2f}/"
                f"{figure.p99_ms:.2f}/{figure.max_ms:.1f} ms ({figure.signals} signals,"
                f" load {result.load[key][-1]:.2f})"
            )
    return result


@dataclass(frozen=True)
class Kills:
    kills: int
    lost: int
    duplicate_rows: int
    redeliver_max_s: float


def kills_during(bench: Bench, rate: float, seconds: float, kills: int = 5) -> Kills:
    """SIGKILL the relay `kills` times at 100/s, restarting it at once; the time from each
    kill until every signal committed before it is in Alpine."""
    env = bench.fresh("kills")
    db = Path(env["ARGO_DB"])
    store = open_signals(db)
    log = db.parent / "relay.log"
    relay = [spawn("relay", "run", env=env, log=log)]
    redeliveries: list[float] = []
    pending_checks: list[tuple[float, int]] = []
    spacing = max(1, int(seconds // (kills + 1)))

    def maybe_kill(second: int) -> None:
        if second % spacing == 0 and len(pending_checks) < kills:
            relay[0].send_signal(signal.SIGKILL)
            relay[0].wait(10)
            committed = outbox_counts(db)[1]
            pending_checks.append((time.perf_counter(), committed))
            relay[0] = spawn("relay", "run", env=env, log=log)
        for killed_at, committed in list(pending_checks[len(redeliveries) :]):
            if _delivered_first(db, committed):
                redeliveries.append(time.perf_counter() - killed_at)

    try:
        wait_for(lambda: "relay started" in log.read_text(), what="relay start")
        sent, _ = _paced(store, rate, seconds, every_second=maybe_kill)
        for killed_at, committed in pending_checks[len(redeliveries) :]:
            wait_for(lambda c=committed: _delivered_first(db, c), timeout=120, what="redelivery")
            redeliveries.append(time.perf_counter() - killed_at)
        wait_for(lambda: outbox_counts(db)[0] == sent, timeout=120, what="the final drain")
    finally:
        stop(relay[0])
        store.close()
    with sqlite3.connect(db) as conn:
        argo = {s for (s,) in conn.execute("SELECT signal_id FROM signals")}
    with psycopg.connect(conninfo(bench.pg_url)) as conn:
        rows = [s for (s,) in conn.execute("SELECT signal_id FROM signals")]
    return Kills(
        len(pending_checks),
        len(argo - set(rows)),
        len(rows) - len(set(rows)),
        max(redeliveries) if redeliveries else 0.0,
    )


def _delivered_first(db: Path, count: int) -> bool:
    """Whether the first `count` outbox rows (those committed before a kill) are delivered."""
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT delivered_at FROM sync_outbox ORDER BY id LIMIT ?)"
            " WHERE delivered_at IS NULL",
            (count,),
        ).fetchone()
    return int(row[0]) == 0
