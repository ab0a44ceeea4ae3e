"""How many bars per second the consensus engine decides, in process, single-threaded.

`python -m tests.bench.engine [BARS]` prints the best of a few runs.
"""

from __future__ import annotations

import sys
import time

from argo.engine.decide import HISTORY, EngineConfig, SignalEngine
from argo.prices.sources import DEFAULT_SYMBOLS, Bar, SyntheticPriceSource


def _bars(count: int, seed: int) -> list[Bar]:
    """`count` synthetic bars, round-robin over the default symbols."""
    source = SyntheticPriceSource(DEFAULT_SYMBOLS, seed)
    return [source.next_bar(DEFAULT_SYMBOLS[i % len(DEFAULT_SYMBOLS)]) for i in range(count)]


def engine_bars_per_s(bars: int = 20_000, *, runs: int = 3, seed: int = 7) -> float:
    """Best of `runs`: bars/s through `SignalEngine.observe` with the default config.

    The bars are made beforehand and the engine warmed with HISTORY bars per symbol,
    so only the engine is timed.
    """
    warm = HISTORY * len(DEFAULT_SYMBOLS)
    series = _bars(warm + bars, seed)
    best = 0.0
    for _ in range(runs):
        engine = SignalEngine(EngineConfig())
        for bar in series[:warm]:
            engine.warm(bar)
        observe = engine.observe
        started = time.perf_counter()
        for bar in series[warm:]:
            observe(bar)
        best = max(best, bars / (time.perf_counter() - started))
    return best


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print(f"engine: {engine_bars_per_s(count):,.0f} bars/s (best of 3, {count:,} bars)")
