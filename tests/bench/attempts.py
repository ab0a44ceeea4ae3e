"""What the attempt log costs: the relay at a steady 100/s and a batched drain, with the
log off and on, in interleaved rounds of the same run (off, on, off, on, ...), so a slow
minute hits both alike. Target (issue #25): with the log on, at most 5 % slower (median
of the per-round ratios: the steady p50 and the drain's rows/s; the p99 is shown)."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from tests.bench.backlog import Backlogs, drain_rate
from tests.bench.latency import relay_latency
from tests.bench.pipeline import Bench

TARGET_SLOWER = 0.05


def measure(
    bench: Bench,
    backlogs: Backlogs,
    *,
    rounds: int,
    seconds: float,
    warmup: float,
    drain: int,
    say: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Per round: steady 100/s p50/p99 and batched drain rows/s, log off then on."""
    per_round: list[dict[str, float]] = []
    for n in range(rounds):
        figures: dict[str, float] = {}
        for name, on in (("off", False), ("on", True)):
            log = {"RELAY_ATTEMPT_LOG": "true" if on else "false"}
            steady = relay_latency(bench, 100.0, seconds, warmup, relay_env=log)
            rate = drain_rate(bench, backlogs, drain, drain, batched=True, attempt_log=on)
            figures |= {
                f"{name}_p50_ms": round(steady.p50_ms, 2),
                f"{name}_p99_ms": round(steady.p99_ms, 2),
                f"{name}_drain_per_s": round(rate, 1),
            }
        per_round.append(figures)
        say(
            f"attempts round {n + 1}/{rounds}: steady p50 off/on {figures['off_p50_ms']}/"
            f"{figures['on_p50_ms']} ms, p99 {figures['off_p99_ms']}/{figures['on_p99_ms']} ms;"
            f" drain {figures['off_drain_per_s']:.0f}/{figures['on_drain_per_s']:.0f} rows/s"
        )
    return summary(per_round)


def summary(per_round: list[dict[str, float]]) -> dict[str, Any]:
    """Each round's on/off ratios, their medians, and the verdict against the target."""
    p50 = [r["on_p50_ms"] / r["off_p50_ms"] for r in per_round]
    p99 = [r["on_p99_ms"] / r["off_p99_ms"] for r in per_round]
    drain = [r["off_drain_per_s"] / r["on_drain_per_s"] for r in per_round]  # > 1: slower
    medians = {
        "steady_p50_ratio": round(statistics.median(p50), 3),
        "steady_p99_ratio": round(statistics.median(p99), 3),
        "drain_time_ratio": round(statistics.median(drain), 3),
    }
    limit = 1.0 + TARGET_SLOWER
    return {
        "rounds": per_round,
        "ratios": {
            "steady_p50": [round(x, 3) for x in p50],
            "steady_p99": [round(x, 3) for x in p99],
            "drain_time": [round(x, 3) for x in drain],
        },
        **medians,
        "target_slower": TARGET_SLOWER,
        "met": medians["steady_p50_ratio"] <= limit and medians["drain_time_ratio"] <= limit,
    }
