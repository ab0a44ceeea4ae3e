"""`argo backtest`: replay bars through the engine and the outcome tracker, in memory.

Bars go round-robin over the symbols, as in `argo generate`: after HISTORY warm-up
bars per symbol, each bar first settles the open signals of its symbol (stop,
target, or the close of the `horizon`-th bar after the signal), then may make a new
signal, timestamped with the bar's own time. Nothing is written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta

from argo.engine.decide import HISTORY, EngineConfig, SignalEngine, signal_from
from argo.engine.outcomes import OutcomeTracker
from argo.prices.sources import Bar, PriceSource
from argo.reports.reliability import Trade
from argo.signal import Outcome, Signal

DEFAULT_HORIZON = 20
# The tracker's clock is the bars' own; only the bar count (the horizon) expires.
_NEVER = timedelta.max


def _bars(source: PriceSource, symbols: Sequence[str], limit: int | None) -> Iterator[Bar]:
    """Bars round-robin over `symbols`, at most `limit` per symbol, until all run out."""
    cycles = 0
    while limit is None or cycles < limit:
        bars = [bar for symbol in symbols if (bar := source.next_bar(symbol)) is not None]
        if not bars:
            return
        yield from bars
        cycles += 1


def replay(
    source: PriceSource,
    symbols: Sequence[str],
    config: EngineConfig | None = None,
    *,
    horizon: int = DEFAULT_HORIZON,
    bars: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Trade]:
    """Every signal the engine makes on `source`, with its outcome.

    `bars` bounds the bars per symbol after the warm-up (None: until the source runs
    out; give it for an endless source such as the synthetic one).
    """
    engine = SignalEngine(config)
    tracker = OutcomeTracker(_NEVER, expire_bars=horizon)
    signals: dict[str, Signal] = {}
    outcomes: dict[str, Outcome] = {}
    for bar in _bars(source, symbols, HISTORY):
        engine.warm(bar)
    for bar in _bars(source, symbols, bars):
        outcomes.update((o.signal_id, o) for o in tracker.check(bar, bar.time))
        decision = engine.observe(bar)
        signal = None if decision is None else signal_from(decision, bar, source.name, bar.time)
        if signal is not None:
            signals[signal.signal_id] = signal
            tracker.track([signal])
        if progress is not None:
            progress(1)
    return [Trade(s, outcomes.get(s.signal_id)) for s in signals.values()]
