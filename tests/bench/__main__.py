"""`make bench`: measure the pipeline and, in the same run, the limits of its parts.

BENCH_QUICK=1 runs a reduced version (well under a minute) with the same keys.
Writes bench-results/latest.json and prints a table.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from alpine.migrations import upgrade
from alpine.store import make_engine
from tests.bench import backlog, engine, latency, limits, pg_outbox, pipeline, stream
from tests.bench.stats import Figure
from tests.kit.pgdb import PG_URL, conninfo, create_database, drop_database, url_for
from tests.support import ROOT, new_api_key, new_signing_secret, start_alpine, stop

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SIZES: dict[str, Any] = (
    {
        "runs": 1,
        "sqlite": 2000,
        "pg": 2000,
        "http": 500,
        "engine_bars": 5000,
        "gen": 2000,
        "backlogs": (2000, 5000, 20000),
        "drain_batch": 2000,
        "drain_single": 600,
        "steady_s": 5,
        "kill_s": 6,
        "kills": 2,
        "contention_s": 3,
        "stream_s": 4,
    }
    if QUICK
    else {
        "runs": 3,
        "sqlite": 10000,
        "pg": 20000,
        "http": 3000,
        "engine_bars": 20000,
        "gen": 20000,
        "backlogs": (5000, 50000, 200000),
        "drain_batch": 50000,
        "drain_single": 3000,
        "steady_s": 30,
        "kill_s": 30,
        "kills": 5,
        "contention_s": 10,
        "stream_s": 15,
    }
)
BACKLOG_KEYS = ("5k", "50k", "200k")


def machine() -> dict[str, Any]:
    with psycopg.connect(conninfo(PG_URL)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": row[0] if row else "unknown",
        "platform": platform.platform(),
    }


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main() -> int:
    results: dict[str, Any] = {"quick": QUICK, "machine": machine(), "spread": {}}
    figures: dict[str, Figure] = {}
    runs = SIZES["runs"]
    with tempfile.TemporaryDirectory(prefix="argo-alpine-bench-") as scratch:
        work = Path(scratch)
        figures.update(measure_limits(work, runs))
        say("engine: bars per second in-process")
        results["engine_bars_per_s"] = round(engine.engine_bars_per_s(SIZES["engine_bars"]), 1)
        results.update(measure_pipeline(work, figures, runs))
        say("live feed: 10 and 1000 stream subscribers; ingest with 1 and 2 workers")
        results.update(live_feed(work, SIZES["stream_s"]))
    for key, figure in figures.items():
        results[key] = round(figure.median, 1)
        results["spread"][key] = {
            "low": round(figure.low, 1),
            "high": round(figure.high, 1),
            "runs": figure.runs,
        }
    results.update(compatible_keys(results))
    results["targets"] = targets(results)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, figures)
    return 0


def measure_limits(work: Path, runs: int) -> dict[str, Figure]:
    say("limits: sqlite 1 and 50 per transaction")
    figures = {
        "limit_sqlite_tx_per_s": limits.sqlite_rate(work, 1, SIZES["sqlite"] // 4, runs),
        "limit_sqlite_batch_per_s": limits.sqlite_rate(work, 50, SIZES["sqlite"] * 5, runs),
    }
    say("limits: postgresql 100 rows per transaction")
    figures["limit_pg_batch_rows_per_s"] = limits.pg_batch_rate(SIZES["pg"], runs)
    say("limits: http one POST at a time")
    figures["limit_http_single_per_s"] = limits.http_single_rate(SIZES["http"], runs, work)
    return figures


def measure_pipeline(work: Path, figures: dict[str, Figure], runs: int) -> dict[str, Any]:
    """Everything that needs one Alpine on PostgreSQL: generator, drains, latency, kills."""
    name = create_database("argo_alpine_bench")
    engine_ = make_engine(url_for(name))
    upgrade(engine_)
    engine_.dispose()
    alpine = start_alpine(
        url_for(name),
        work,
        api_keys=[new_api_key()],
        signing_secret=new_signing_secret(),
        extra_env={"ALPINE_RATE_LIMIT": "0"},
    )
    bench = pipeline.Bench(alpine, url_for(name), work)
    out: dict[str, Any] = {}
    try:
        say("generator: argo generate, 50 signals per transaction")
        figures["generator_per_s"] = pipeline.generator_rate(bench, SIZES["gen"], runs, 50)
        out.update(drains(bench, work))
        out.update(latencies(bench))
        say("outbox: SQLite and PostgreSQL, 1, 2 and 4 relays: drain and steady 100/s")
        out.update(pg_outbox.figures(bench, quick=QUICK))
        say(f"contention for {SIZES['contention_s']} s")
        contended = pipeline.contention(bench, SIZES["contention_s"])
        solo = pipeline.contention(bench, SIZES["contention_s"], with_relay=False)
        out.update(
            contention_generator_per_s=round(contended.generator_rate, 1),
            contention_generator_solo_per_s=round(solo.generator_rate, 1),
            contention_relay_per_s=round(contended.delivered_rate, 1),
            contention_generator_ratio=_ratio(contended.generator_rate, solo.generator_rate),
            contention_relay_ratio=_ratio(contended.delivered_rate, contended.generator_rate),
        )
    finally:
        stop(alpine.process)
        drop_database(name)
    return out


def drains(bench: pipeline.Bench, work: Path) -> dict[str, Any]:
    backlogs = backlog.Backlogs(work)
    out: dict[str, Any] = {}
    for size, key in zip(SIZES["backlogs"], BACKLOG_KEYS, strict=True):
        say(f"drain from a {size}-row backlog: batched, then one per POST")
        batched = backlog.drain_rate(bench, backlogs, size, SIZES["drain_batch"], batched=True)
        single = backlog.drain_rate(bench, backlogs, size, SIZES["drain_single"], batched=False)
        out[f"drain_batch_{key}_per_s"] = round(batched, 1)
        out[f"drain_single_{key}_per_s"] = round(single, 1)
    return out


def latencies(bench: pipeline.Bench) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seconds = SIZES["steady_s"]
    for rate, label in ((100.0, "100"), (500.0, "500")):
        say(f"relay latency at {label}/s for {seconds} s")
        figure = latency.relay_latency(bench, rate, seconds)
        out |= _latency_keys(f"latency_{label}", figure)
    say(f"baseline (commit, then inline POST) at 100/s for {seconds} s")
    out |= _latency_keys("baseline_100", latency.baseline_latency(bench, 100.0, seconds))
    say(f"{SIZES['kills']} relay SIGKILLs during 100/s")
    kills = latency.kills_during(bench, 100.0, SIZES["kill_s"], SIZES["kills"])
    out.update(
        kills=kills.kills,
        kill_lost=kills.lost,
        kill_duplicate_rows=kills.duplicate_rows,
        redeliver_after_kill_max_s=round(kills.redeliver_max_s, 3),
    )
    return out


def _latency_keys(prefix: str, figure: pipeline.Latency) -> dict[str, float]:
    return {
        f"{prefix}_rate_per_s": round(figure.rate_per_s, 1),
        f"{prefix}_p50_ms": round(figure.p50_ms, 2),
        f"{prefix}_p95_ms": round(figure.p95_ms, 2),
        f"{prefix}_p99_ms": round(figure.p99_ms, 2),
        f"{prefix}_max_ms": round(figure.max_ms, 2),
    }


def _ratio(part: float, whole: float) -> float:
    return round(part / whole, 3) if whole else 0.0


def compatible_keys(r: dict[str, Any]) -> dict[str, Any]:
    """The keys earlier runs wrote, for the tools that read them."""
    return {
        "drain_batch_per_s": r["drain_batch_5k_per_s"],
        "drain_single_per_s": r["drain_single_5k_per_s"],
        "steady_rate_per_s": r["latency_100_rate_per_s"],
        "latency_p50_ms": r["latency_100_p50_ms"],
        "latency_p95_ms": r["latency_100_p95_ms"],
        "latency_p99_ms": r["latency_100_p99_ms"],
        "latency_max_ms": r["latency_100_max_ms"],
    }


def live_feed(work: Path, seconds: float) -> dict[str, Any]:
    """stream.run_all on its own database, Alpine started with 1 or 2 workers."""
    name = create_database("argo_alpine_bench_stream")
    engine = make_engine(url_for(name))
    upgrade(engine)
    engine.dispose()
    keys = [new_api_key()]

    def start(workers: int) -> Any:
        return start_alpine(
            url_for(name),
            work,
            api_keys=keys,
            extra_env={
                "ALPINE_RATE_LIMIT": "0",
                "ALPINE_SUBSCRIBER_RATE_LIMIT": "0",
                "ALPINE_WORKERS": str(workers),
            },
        )

    try:
        return stream.run_all(start, url_for(name), work, seconds, (10, 1000))
    finally:
        drop_database(name)


def targets(r: dict[str, Any]) -> dict[str, bool]:
    """Issue 18's targets (ratios from this one run) and the live feed's."""
    return {
        "steady 100/s p99 <= 1.0x inline baseline p99": r["latency_100_p99_ms"]
        <= r["baseline_100_p99_ms"],
        "steady 100/s p50 <= 1.5x inline baseline p50": r["latency_100_p50_ms"]
        <= 1.5 * r["baseline_100_p50_ms"],
        "500/s p99 <= 10 ms": r["latency_500_p99_ms"] <= 10,
        "500/s max <= 50 ms": r["latency_500_max_ms"] <= 50,
        "redelivery after a relay SIGKILL <= 2 s": r["redeliver_after_kill_max_s"] <= 2,
        "kills: 0 lost, 0 duplicate rows": r["kill_lost"] == 0 and r["kill_duplicate_rows"] == 0,
        "drain batched at 200k >= 0.9x at 5k": r["drain_batch_200k_per_s"]
        >= 0.9 * r["drain_batch_5k_per_s"],
        "drain one per POST at 200k >= 0.9x at 5k": r["drain_single_200k_per_s"]
        >= 0.9 * r["drain_single_5k_per_s"],
        "drain batched >= 0.8x pg batch limit": r["drain_batch_5k_per_s"]
        >= 0.8 * r["limit_pg_batch_rows_per_s"],
        "drain one per POST >= 0.5x http single limit": r["drain_single_5k_per_s"]
        >= 0.5 * r["limit_http_single_per_s"],
        "engine >= 40k bars/s": r["engine_bars_per_s"] >= 40000,
        "generator with relay >= 0.8x solo": r["contention_generator_ratio"] >= 0.8,
        "relay keeps up with the generator (>= 0.9)": r["contention_relay_ratio"] >= 0.9,
        "pg outbox: drain with 2 and 4 relays >= 0.8x 1 relay": min(
            r["outbox_pg_drain_ratio_2_to_1"], r["outbox_pg_drain_ratio_4_to_1"]
        )
        >= 0.8,
        "pg outbox: steady p99 with 4 relays <= 2x 1 relay": r["outbox_pg_steady_4_relays_p99_ms"]
        <= 2 * r["outbox_pg_steady_1_relays_p99_ms"],
        "stream p99 <= 100 ms at 1000 subscribers": r["stream_1000_p99_ms"] <= 100,
        "stream db queries/s flat 10 -> 1000 (<= 1.5x)": r["stream_1000_db_queries_per_s"]
        <= 1.5 * r["stream_10_db_queries_per_s"],
        "stream every event delivered at 1000": r["stream_1000_deliveries"]
        == r["stream_1000_expected"],
    }


_SHOWN = (
    "engine_",
    "drain_",
    "latency_",
    "baseline_",
    "kill",
    "redeliver_",
    "contention_",
    "stream_",
    "ingest_",
    "outbox_",
)


def print_table(r: dict[str, Any], figures: dict[str, Figure]) -> None:
    print(f"\nargo-alpine benchmark ({'quick' if r['quick'] else 'full'} run) on {r['machine']}")
    print(f"{'figure':<34}{'median':>12}{'low':>12}{'high':>12}{'spread':>9}")
    for key, figure in figures.items():
        print(
            f"{key:<34}{figure.median:>12.1f}{figure.low:>12.1f}{figure.high:>12.1f}"
            f"{figure.spread_pct:>8.0f}%"
        )
    baseline = {"p50": r["baseline_100_p50_ms"], "p99": r["baseline_100_p99_ms"]}
    for key in sorted(k for k in r if k.startswith(_SHOWN)):
        ratio = ""
        for quantile, base in baseline.items():
            if key.startswith("latency_") and key.endswith(f"_{quantile}_ms") and base:
                ratio = f"  {r[key] / base:.2f}x baseline"
        print(f"{key:<40}{r[key]:>12}{ratio}")
    print("\ntargets")
    for name, met in r["targets"].items():
        print(f"  {'met   ' if met else 'MISSED'} {name}")
    print("\nwrote bench-results/latest.json")


if __name__ == "__main__":
    sys.exit(main())
