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
from tests.bench import limits, pipeline
from tests.bench.stats import Figure
from tests.pgdb import PG_URL, conninfo, create_database, drop_database, url_for
from tests.support import ROOT, new_api_key, new_signing_secret, start_alpine, stop

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
SIZES: dict[str, Any] = (
    {
        "runs": 2,
        "sqlite": 2000,
        "pg": 2000,
        "http": 500,
        "gen": 2000,
        "drain": 3000,
        "drain_single": 600,
        "steady_s": 6,
        "contention_s": 3,
    }
    if QUICK
    else {
        "runs": 3,
        "sqlite": 10000,
        "pg": 20000,
        "http": 3000,
        "gen": 20000,
        "drain": 20000,
        "drain_single": 3000,
        "steady_s": 30,
        "contention_s": 10,
    }
)


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
        say("limits: sqlite 1 and 50 per transaction")
        figures["limit_sqlite_tx_per_s"] = limits.sqlite_rate(work, 1, SIZES["sqlite"] // 4, runs)
        figures["limit_sqlite_batch_per_s"] = limits.sqlite_rate(
            work, 50, SIZES["sqlite"] * 5, runs
        )
        say("limits: postgresql 100 rows per transaction")
        figures["limit_pg_batch_rows_per_s"] = limits.pg_batch_rate(SIZES["pg"], runs)
        say("limits: http one POST at a time")
        figures["limit_http_single_per_s"] = limits.http_single_rate(SIZES["http"], runs, work)

        name = create_database("argo_alpine_bench")
        engine = make_engine(url_for(name))
        upgrade(engine)
        engine.dispose()
        alpine = start_alpine(
            url_for(name),
            work,
            api_keys=[new_api_key()],
            signing_secret=new_signing_secret(),
            extra_env={"ALPINE_RATE_LIMIT": "0"},
        )
        bench = pipeline.Bench(alpine, url_for(name), work)
        try:
            say("generator")
            figures["generator_per_s"] = pipeline.generator_rate(bench, SIZES["gen"], runs)
            say("drain with the batch endpoint")
            figures["drain_batch_per_s"] = pipeline.drain_rate(
                bench, SIZES["drain"], runs, batched=True
            )
            say("drain one signal per POST")
            figures["drain_single_per_s"] = pipeline.drain_rate(
                bench, SIZES["drain_single"], runs, batched=False
            )
            say(f"steady state at 200/s for {SIZES['steady_s']} s")
            steady = pipeline.steady_state(bench, 200.0, SIZES["steady_s"])
            say(f"contention for {SIZES['contention_s']} s")
            contended = pipeline.contention(bench, SIZES["contention_s"])
        finally:
            stop(alpine.process)
            drop_database(name)

    for key, figure in figures.items():
        results[key] = round(figure.median, 1)
        results["spread"][key] = {
            "low": round(figure.low, 1),
            "high": round(figure.high, 1),
            "runs": figure.runs,
        }
    results.update(
        steady_rate_per_s=round(steady.rate_per_s, 1),
        latency_p50_ms=round(steady.p50_ms, 2),
        latency_p95_ms=round(steady.p95_ms, 2),
        latency_p99_ms=round(steady.p99_ms, 2),
        latency_max_ms=round(steady.max_ms, 2),
        contention_generator_per_s=round(contended.generator_rate, 1),
        contention_relay_per_s=round(contended.delivered_rate, 1),
        contention_generator_ratio=round(
            contended.generator_rate / figures["generator_per_s"].median, 3
        ),
        contention_relay_ratio=round(
            contended.delivered_rate / contended.generator_rate
            if contended.generator_rate
            else 0.0,
            3,
        ),
    )
    results["targets"] = targets(results)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, figures)
    return 0


def targets(r: dict[str, Any]) -> dict[str, bool]:
    return {
        "drain_batch >= 8000/s": r["drain_batch_per_s"] >= 8000,
        "drain_batch >= 0.25 x pg limit": r["drain_batch_per_s"]
        >= 0.25 * r["limit_pg_batch_rows_per_s"],
        "drain_single >= 0.25 x http limit": r["drain_single_per_s"]
        >= 0.25 * r["limit_http_single_per_s"],
        "steady p99 <= 100 ms": r["latency_p99_ms"] <= 100,
        "contention generator ratio >= 0.5": r["contention_generator_ratio"] >= 0.5,
        "contention relay ratio >= 0.9": r["contention_relay_ratio"] >= 0.9,
    }


def print_table(r: dict[str, Any], figures: dict[str, Figure]) -> None:
    print(f"\nargo-alpine benchmark ({'quick' if r['quick'] else 'full'} run) on {r['machine']}")
    print(f"{'figure':<34}{'median':>12}{'low':>12}{'high':>12}{'spread':>9}")
    for key, figure in figures.items():
        print(
            f"{key:<34}{figure.median:>12.1f}{figure.low:>12.1f}{figure.high:>12.1f}"
            f"{figure.spread_pct:>8.0f}%"
        )
    for key in (
        "steady_rate_per_s",
        "latency_p50_ms",
        "latency_p95_ms",
        "latency_p99_ms",
        "latency_max_ms",
        "contention_generator_per_s",
        "contention_relay_per_s",
        "contention_generator_ratio",
        "contention_relay_ratio",
    ):
        print(f"{key:<34}{r[key]:>12}")
    print("\ntargets")
    for name, met in r["targets"].items():
        print(f"  {'met   ' if met else 'MISSED'} {name}")
    print("\nwrote bench-results/latest.json")


if __name__ == "__main__":
    sys.exit(main())
