"""Property tests: whatever the market does, every emitted signal is valid and verifiable."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from alpine.canonical import verification_hash
from argo.engine.decide import EngineConfig, SignalEngine
from argo.generator import SignalFactory
from argo.prices.sources import Bar, SyntheticPriceSource
from argo.signal import Action, canonical_hash
from tests.kit.factories import bars_from

SYMBOLS = ["AAPL", "BTC-USD"]


def check_signal_fields(signal: object) -> None:
    from argo.signal import Signal

    assert isinstance(signal, Signal)
    prices = (signal.entry_price, signal.target_price, signal.stop_price)
    assert all(math.isfinite(p) and p > 0 for p in prices)
    if signal.action is Action.BUY:
        assert signal.stop_price < signal.entry_price < signal.target_price
    else:
        assert signal.target_price < signal.entry_price < signal.stop_price
    assert 0 <= signal.confidence <= 100
    payload = signal.to_payload()
    assert canonical_hash(payload) == signal.sha256 == verification_hash(payload)
    assert signal.reasoning and len(signal.reasoning) <= 2000


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    threshold=st.floats(0, 100),
    cooldown=st.integers(0, 20),
)
def test_signals_from_the_synthetic_market_are_valid(
    seed: int, threshold: float, cooldown: int
) -> None:
    factory = SignalFactory(
        SyntheticPriceSource(SYMBOLS, seed),
        EngineConfig(base_threshold=threshold, cooldown_bars=cooldown),
    )
    factory.warm_up(SYMBOLS)
    for index in range(400):
        signal, bar = factory.step(SYMBOLS[index % 2])
        assert bar is not None
        if signal is not None:
            check_signal_fields(signal)
            assert signal.confidence >= threshold


@st.composite
def bar_paths(draw: st.DrawFn) -> list[Bar]:
    """Arbitrary bar sequences: returns, wicks and volumes drawn freely (crashes included)."""
    count = draw(st.integers(60, 140))
    returns = draw(st.lists(st.floats(-0.3, 0.3), min_size=count, max_size=count))
    wicks = draw(st.lists(st.floats(0, 0.05), min_size=count, max_size=count))
    volumes = draw(st.lists(st.floats(0, 1e7), min_size=count, max_size=count))
    return bars_from(returns, wicks, volumes, draw(st.floats(0.01, 1e5)), "TEST")


@settings(max_examples=60, deadline=None)
@given(bars=bar_paths(), threshold=st.floats(0, 100))
def test_any_bar_path_yields_only_valid_decisions(bars: list[Bar], threshold: float) -> None:
    engine = SignalEngine(EngineConfig(base_threshold=threshold, cooldown_bars=0))
    for bar in bars:
        decision = engine.observe(bar)
        if decision is None:
            continue
        entry, target, stop = decision.entry_price, decision.target_price, decision.stop_price
        assert all(math.isfinite(p) and p > 0 for p in (entry, target, stop))
        if decision.action is Action.BUY:
            assert stop < entry < target
        else:
            assert target < entry < stop
        assert threshold <= decision.confidence <= 100
        assert 0 <= decision.agreement <= 1
