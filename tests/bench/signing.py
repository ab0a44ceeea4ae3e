"""What Alpine's receipts and record cost: batched ingest with signing off and on, in
interleaved rounds of the same run (off, on, off, on, ...).

Two real `alpine serve` processes on one throwaway PostgreSQL database, one without a
receipt key and one with (receipts on every answer, every event sealed into the signed
record as it is stored). Each round truncates, POSTs `batches` x 500 signals one POST at
a time (as the relay's drain does) and, with signing on, waits until the record is sealed
up to the head: throughput is signals / (time to POST them all and seal them). Alpine's
CPU per signal comes from its process. Target (issue #24): signing costs at most 10 % of
batched ingest throughput.

`python -m tests.bench.signing [--rounds 3] [--batches 8]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from alpine.migrations import upgrade
from alpine.receipts import SigningKey
from alpine.store import make_engine
from tests.bench.alpine_ingest import BATCH, Target, _post_all, _truncate, payloads
from tests.bench.stream import cpu_seconds
from tests.kit.pgdb import conninfo, create_database, drop_database, url_for
from tests.support import new_api_key, new_signing_secret, start_alpine, stop

SEAL_DEADLINE_S = 60.0
TARGET_COST = 0.10


@dataclass(frozen=True)
class Round:
    off_rate: float  # signals/s
    on_rate: float
    off_cpu_ms: float  # Alpine CPU per signal
    on_cpu_ms: float

    @property
    def cost(self) -> float:
        """The share of throughput signing takes (0.08 = 8 % fewer signals/s)."""
        return 1.0 - self.on_rate / self.off_rate


def _sealed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "SELECT f.seq, r.seq FROM feed_head f, record_head r WHERE f.id = 1 AND r.id = 1"
    ).fetchone()
    return row is not None and row[0] == row[1]


def _one(
    target: Target, bodies: list[bytes], items: int, sealing: bool, poll: psycopg.Connection[Any]
) -> tuple[float, float]:
    """(signals/s, Alpine CPU ms per signal) for one pass of `bodies`; `poll` (autocommit)
    asks whether the record is sealed."""
    _truncate(target)
    assert target.pid is not None
    before = cpu_seconds(target.pid)
    started = time.perf_counter()
    _post_all(target, "/api/v1/argo/sync/signals", bodies, 1, lambda s: s == 200)
    deadline = time.monotonic() + SEAL_DEADLINE_S
    # One connection, opened beforehand, polled often: a new connection per poll was a
    # PostgreSQL backend started each time, on the cores the seal it waits for needs.
    while sealing and not _sealed(poll):
        if time.monotonic() > deadline:
            raise TimeoutError("the record was not sealed within the deadline")
        time.sleep(0.001)
    seconds = time.perf_counter() - started
    return items / seconds, (cpu_seconds(target.pid) - before) * 1000 / items


@contextmanager
def _alpines() -> Iterator[tuple[Target, Target]]:
    """(signing off, signing on): two Alpines on one throwaway database."""
    name = create_database("argo_alpine_bench_signing")
    url = url_for(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        with tempfile.TemporaryDirectory(prefix="alpine-signing-") as workdir:
            secret, key = new_signing_secret(), new_api_key()
            common = {"ALPINE_RATE_LIMIT": "0"}
            off = start_alpine(
                url, Path(workdir), api_keys=[key], signing_secret=secret, extra_env=common
            )
            on = start_alpine(
                url,
                Path(workdir),
                api_keys=[key],
                signing_secret=secret,
                extra_env=common | {"ALPINE_RECEIPT_KEY": SigningKey.generate("bench")},
            )
            try:
                yield (
                    Target(off.url, key, secret, url, off.process.pid),
                    Target(on.url, key, secret, url, on.process.pid),
                )
            finally:
                stop(off.process)
                stop(on.process)
    finally:
        drop_database(name)


def measure(rounds: int = 3, batches: int = 8, say: Any = print) -> dict[str, Any]:
    """Interleaved rounds of batched ingest, signing off then on; the report."""
    items = payloads(batches * BATCH)
    bodies = [
        b'{"signals":[' + b",".join(items[i : i + BATCH]) + b"]}"
        for i in range(0, len(items), BATCH)
    ]
    done: list[Round] = []
    with (
        _alpines() as (off, on),
        psycopg.connect(conninfo(on.database_url), autocommit=True) as poll,
    ):
        _one(off, bodies[:1], BATCH, False, poll)  # warm both up (connections, caches)
        _one(on, bodies[:1], BATCH, True, poll)
        for number in range(1, rounds + 1):
            off_rate, off_cpu = _one(off, bodies, len(items), False, poll)
            on_rate, on_cpu = _one(on, bodies, len(items), True, poll)
            done.append(Round(off_rate, on_rate, off_cpu, on_cpu))
            say(
                f"  signing round {number}/{rounds}: off {off_rate:,.0f}/s"
                f" ({off_cpu:.3f} ms CPU/signal), on {on_rate:,.0f}/s ({on_cpu:.3f} ms),"
                f" cost {done[-1].cost:.1%}"
            )
    costs = [r.cost for r in done]
    return {
        "signals_per_round": len(items),
        "rounds": [
            {
                "off_per_s": r.off_rate,
                "on_per_s": r.on_rate,
                "off_cpu_ms_per_signal": r.off_cpu_ms,
                "on_cpu_ms_per_signal": r.on_cpu_ms,
                "cost": r.cost,
            }
            for r in done
        ],
        "cost_median": statistics.median(costs),
        "cost_low": min(costs),
        "cost_high": max(costs),
        "cpu_ms_per_signal_added": statistics.median(r.on_cpu_ms - r.off_cpu_ms for r in done),
        "target_cost": TARGET_COST,
        "met": statistics.median(costs) <= TARGET_COST,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=8, help="POSTs of 500 signals a round")
    args = parser.parse_args()
    print(json.dumps(measure(args.rounds, args.batches), indent=2))


if __name__ == "__main__":
    main()
