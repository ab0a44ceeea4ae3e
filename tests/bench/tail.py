"""Where the relay's tail comes from: one paced run with timestamps along the path.

    python -m tests.bench.tail [--rate 100] [--seconds 10] [--hog] [--inline]

Starts its own Alpine on PostgreSQL (127.0.0.1), a relay process whose window phases
and garbage collections are timed from inside (`relay` mode below: the real relay,
wrapped, nothing changed), and the paced generator in this process; `--hog` adds a
CPU hog at nice 0 for the run. Prints, per step of the path, p50/p99/max in ms, and
for the signals over the run's p99 which step was the longest. `--inline` runs the
seeds' inline POST instead of the relay, timing the commit and the POST.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from alpine.migrations import upgrade
from alpine.store import make_engine
from argo.signals import open_signals
from argo.timeutil import from_text
from tests.bench import latency
from tests.bench.hog import hogging
from tests.bench.pipeline import Bench
from tests.bench.stats import percentile
from tests.kit.pgdb import conninfo, create_database, drop_database, url_for
from tests.kit.pipeline import outbox_counts
from tests.support import new_api_key, new_signing_secret, spawn, start_alpine, stop, wait_for


def _trace_gc() -> list[tuple[float, float, int]]:
    """Every collection's start, end and generation, from now on."""
    collections: list[tuple[float, float, int]] = []
    started = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.time()
        else:
            collections.append((started[0], time.time(), info["generation"]))

    gc.callbacks.append(on_gc)
    return collections


def _trace_relay(out: Path) -> None:
    """Wrap the relay's phases (in the relay process) and write their times at exit."""
    from argo.outbox.doorbell import Doorbell
    from relay.loop import Relay

    windows: list[dict[str, Any]] = []
    collections = _trace_gc()
    wake = [0.0]
    current: dict[str, Any] = {}
    wait = Doorbell.wait

    def timed_wait(self: Doorbell, timeout: float) -> bool:
        rang = wait(self, timeout)
        if rang:
            wake[0] = time.time()
        return rang

    claim, send, settle = Relay.claim_window, Relay.send_window, Relay.settle_window

    def timed_claim(self: Relay) -> Any:
        started = time.time()
        claimed = claim(self)
        if claimed.claim is not None:
            current[id(claimed.claim)] = {
                "wake": wake[0],
                "claim0": started,
                "claim1": time.time(),
                "ids": [r.id for r in claimed.claim.rows],
            }
        return claimed

    def timed_send(self: Relay, window: Any, stop: Any) -> Any:
        started = time.time()
        sent = send(self, window, stop)
        record = current.get(id(window))
        if record is not None:
            record |= {"send0": started, "send1": time.time()}
        return sent

    def timed_settle(self: Relay, claimed: Any, sent: Any) -> Any:
        started = time.time()
        report = settle(self, claimed, sent)
        record = current.pop(id(claimed.claim), None)
        if record is not None:
            windows.append(record | {"settle0": started, "settle1": time.time()})
        return report

    Doorbell.wait = timed_wait  # type: ignore[method-assign]
    Relay.claim_window = timed_claim  # type: ignore[method-assign]
    Relay.send_window = timed_send  # type: ignore[method-assign]
    Relay.settle_window = timed_settle  # type: ignore[method-assign]
    atexit.register(lambda: out.write_text(json.dumps({"windows": windows, "gc": collections})))


def _steps(
    window: dict[str, Any], committed: float, done: float, received: float
) -> dict[str, float]:
    """ms spent in each step of one signal's path."""
    wake = window["wake"] if committed <= window["wake"] <= window["claim0"] else None
    return {
        "commit (generator, FULL)": done - committed,
        "committed -> wake-up": (wake - done) if wake else float("nan"),
        "committed -> claim start": window["claim0"] - done,
        "claim tx": window["claim1"] - window["claim0"],
        "claim end -> POST start": window["send0"] - window["claim1"],
        "POST start -> Alpine received_at": received - window["send0"],
        "received_at -> POST returned": window["send1"] - received,
        "POST returned -> settled": window["settle1"] - window["send1"],
        "commit -> stored (bench figure)": received - committed,
        "committed": committed,
    }


def _report(rows: list[dict[str, float]], gcs: list[list[float]], label: str) -> dict[str, Any]:
    names = [n for n in (rows[0] if rows else {}) if n != "committed"]
    summary: dict[str, Any] = {"label": label, "signals": len(rows), "steps": {}}
    print(f"\n{label}: {len(rows)} signals, load {os.getloadavg()}")
    print(f"{'step':<36}{'p50':>9}{'p99':>9}{'max':>9}  (ms)")
    for name in names:
        values = [1000 * r[name] for r in rows if r[name] == r[name]]
        figures = [percentile(values, 50), percentile(values, 99), max(values, default=0.0)]
        summary["steps"][name] = [round(v, 2) for v in figures]
        print(f"{name:<36}" + "".join(f"{v:>9.2f}" for v in figures))
    total = "commit -> stored (bench figure)"
    cut = percentile([r[total] for r in rows], 99)
    tail = [r for r in rows if r[total] >= cut]
    blame: dict[str, int] = {}
    for r in tail:
        steps = {
            k: v
            for k, v in r.items()
            if k not in (total, "committed") and v == v and "wake-up" not in k
        }
        worst = max(steps, key=lambda k: steps[k])
        blame[worst] = blame.get(worst, 0) + 1
    summary["tail_longest_step"] = blame
    print(f"signals at or over p99 ({len(tail)}): longest step {blame}")
    # Only collections during the measured run (start-up's are before its first commit).
    first = min((r["committed"] for r in rows), default=0.0)
    during = [(end - start, gen) for start, end, gen in gcs if start >= first]
    pauses = sorted(((round(1000 * d, 2), g) for d, g in during), reverse=True)
    summary["relay_gc"] = {"collections": len(pauses), "longest_ms_generation": pauses[:5]}
    print(f"relay gc during the run: {len(pauses)} collections, longest (ms, gen) {pauses[:5]}")
    return summary


def run(rate: float, seconds: float, hog: bool, inline: bool) -> dict[str, Any]:
    name = create_database("argo_alpine_tail")
    engine = make_engine(url_for(name))
    upgrade(engine)
    engine.dispose()
    with tempfile.TemporaryDirectory(prefix="argo-alpine-tail-") as scratch:
        work = Path(scratch)
        alpine = start_alpine(
            url_for(name),
            work,
            api_keys=[new_api_key()],
            signing_secret=new_signing_secret(),
            extra_env={"ALPINE_RATE_LIMIT": "0"},
        )
        bench = Bench(alpine, url_for(name), work)
        try:
            label = f"{'inline' if inline else 'relay'} {rate:g}/s{' + hog' if hog else ''}"
            with hogging(hog, seconds + 10):
                if inline:
                    return _inline(bench, rate, seconds, label)
                return _relay(bench, rate, seconds, label)
        finally:
            stop(alpine.process)
            drop_database(name)


def _commits(db: Path) -> dict[int, tuple[str, float]]:
    """Outbox id -> (signal id, commit start as epoch seconds)."""
    with sqlite3.connect(db) as conn:
        return {
            i: (s, from_text(at).timestamp())
            for i, s, at in conn.execute("SELECT id, signal_id, created_at FROM sync_outbox")
        }


def _received(bench: Bench) -> dict[str, float]:
    with psycopg.connect(conninfo(bench.pg_url)) as conn:
        return {
            s: at.timestamp()
            for s, at in conn.execute("SELECT signal_id, received_at FROM signals")
        }


def _relay(bench: Bench, rate: float, seconds: float, label: str) -> dict[str, Any]:
    env = bench.fresh("tail")
    db = Path(env["ARGO_DB"])
    trace = db.parent / "trace.json"
    store = open_signals(db)
    log = db.parent / "relay.log"
    relay = spawn("tests.bench.tail", "relay", str(trace), env=env, log=log)
    done: list[float] = []
    try:
        wait_for(lambda: "relay started" in log.read_text(), timeout=60, what="relay start")
        sent, _ = _paced(store, rate, seconds, lambda: done.append(time.time()))
        wait_for(lambda: outbox_counts(db)[0] == sent, timeout=60, what="drain")
    finally:
        stop(relay)
        store.close()
    traced = json.loads(trace.read_text())
    commits, received = _commits(db), _received(bench)
    by_row = {i: w for w in traced["windows"] for i in w["ids"]}
    rows, busy = [], []
    for n, (row_id, (signal_id, committed)) in enumerate(sorted(commits.items())):
        if row_id in by_row and signal_id in received and n >= int(rate * 0.5):
            rows.append(_steps(by_row[row_id], committed, done[n], received[signal_id]))
            busy.append(_relay_was(traced["windows"], by_row[row_id], done[n]))
    summary = _report(rows, traced["gc"], label)
    total = "commit -> stored (bench figure)"
    cut = percentile([r[total] for r in rows], 99)
    at_commit: dict[str, int] = {}
    for r, where in zip(rows, busy, strict=True):
        if r[total] >= cut:
            at_commit[where] = at_commit.get(where, 0) + 1
    summary["tail_relay_at_commit"] = at_commit
    print(f"signals at or over p99: where the relay was when their commit ended {at_commit}")
    return summary


def _relay_was(windows: list[dict[str, Any]], own: dict[str, Any], done: float) -> str:
    """Which phase of an earlier window the relay was in when a commit ended."""
    for window in windows:
        if window is own or window["claim0"] > done:
            continue
        for phase, start, end in (
            ("claiming", "claim0", "claim1"),
            ("posting", "send0", "send1"),
            ("deciding", "send1", "settle0"),
            ("settling", "settle0", "settle1"),
        ):
            if window[start] <= done < window[end]:
                return f"{phase} an earlier window"
    return "idle"


def _paced(store: Any, rate: float, seconds: float, after: Callable[[], None]) -> tuple[int, float]:
    return latency._paced(store, rate, seconds, after_commit=lambda _: after())


def _inline(bench: Bench, rate: float, seconds: float, label: str) -> dict[str, Any]:
    """The seeds' design, timed: commit, then the POST (its start and end)."""
    env = bench.fresh("tail-inline")
    db = Path(env["ARGO_DB"])
    store = open_signals(db)
    marks: list[tuple[float, float, float]] = []
    post = latency.inline_poster(bench)
    try:

        def after(made: Any) -> None:
            done = time.time()
            post(made)
            marks.append((done, done, time.time()))

        latency._paced(store, rate, seconds, after_commit=after)
    finally:
        store.close()
    commits, received = _commits(db), _received(bench)
    rows = []
    for n, (_, (signal_id, committed)) in enumerate(sorted(commits.items())):
        if signal_id in received and n >= int(rate * 0.5):
            done, send0, send1 = marks[n]
            r = received[signal_id]
            rows.append(
                {
                    "commit (generator, FULL)": done - committed,
                    "POST start -> Alpine received_at": r - send0,
                    "received_at -> POST returned": send1 - r,
                    "commit -> stored (bench figure)": r - committed,
                    "committed": committed,
                }
            )
    return _report(rows, [], label)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "relay":
        _trace_relay(Path(args[1]))
        from relay.cli import main as relay_main

        return int(relay_main(["run"], standalone_mode=False) or 0)
    parser = argparse.ArgumentParser(prog="python -m tests.bench.tail")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hog", action="store_true", help="a CPU hog at nice 0 meanwhile")
    parser.add_argument("--inline", action="store_true", help="the seeds' inline POST")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    options = parser.parse_args(args)
    started = datetime.now(UTC)
    summary = run(options.rate, min(options.seconds, 60.0), options.hog, options.inline)
    summary |= {"started": started.isoformat(), "load_after": os.getloadavg()}
    if options.json:
        options.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
