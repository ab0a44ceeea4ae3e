"""Consensus and regime logic on constructed price series and vote tables."""

from __future__ import annotations

import pytest

from argo.engine.consensus import DEFAULT_WEIGHTS, Vote, poll, weigh
from argo.engine.decide import EngineConfig, SignalEngine
from argo.engine.regime import detect, lowest_threshold, threshold
from argo.prices.sources import Bar
from argo.signal import Action, Regime
from tests.kit.factories import bars_from


def series(returns: list[float], start: float = 100.0, volume: float = 1e6) -> list[Bar]:
    """Bars following `returns`, with small wicks and steady volume."""
    wicks = [0.001 * (1 + index % 3) for index in range(len(returns))]
    return bars_from(returns, wicks, [volume] * len(returns), start)


UPTREND = series([0.004 if i % 4 else -0.001 for i in range(70)])
DOWNTREND = series([-0.004 if i % 4 else 0.001 for i in range(71)])  # ends on a falling bar
CHOP = series([0.003 * (-1) ** i for i in range(70)])
CRASH = series([0.0005 * (-1) ** i for i in range(58)] + [-0.04] * 12)


def test_uptrend_leans_buy_and_is_bull() -> None:
    consensus = poll(UPTREND)
    assert consensus.direction == 1 and consensus.confidence > 60
    assert {v.source for v in consensus.supporting()} >= {"momentum", "trend"}
    assert detect(UPTREND) is Regime.BULL


def test_downtrend_leans_sell_and_is_bear() -> None:
    consensus = poll(DOWNTREND)
    assert consensus.direction == -1 and consensus.confidence > 60
    assert detect(DOWNTREND) is Regime.BEAR


def test_chop_is_chop_and_raises_the_bar() -> None:
    assert detect(CHOP) is Regime.CHOP
    assert threshold(88, Regime.CHOP, Action.BUY) == 92


def test_crash_is_crisis_with_a_higher_bar() -> None:
    assert detect(CRASH) is Regime.CRISIS
    assert threshold(88, Regime.CRISIS, Action.SELL) == 93
    assert threshold(88, Regime.CRISIS, Action.BUY) == 98
    assert poll(CRASH).direction == -1


@pytest.mark.parametrize(
    ("regime", "action", "bar"),
    [
        (Regime.BULL, Action.BUY, 88),
        (Regime.BULL, Action.SELL, 93),
        (Regime.BEAR, Action.SELL, 88),
        (Regime.BEAR, Action.BUY, 93),
        (Regime.CHOP, Action.SELL, 92),
        (Regime.CRISIS, Action.BUY, 98),
    ],
)
def test_threshold_table(regime: Regime, action: Action, bar: float) -> None:
    assert threshold(88, regime, action) == bar


@pytest.mark.parametrize("base", [0.0, 50.0, 88.0, 95.5, 100.0, 120.0])
def test_lowest_threshold_is_the_least_any_regime_asks(base: float) -> None:
    asks = [threshold(base, regime, action) for regime in Regime for action in Action]
    assert lowest_threshold(base) == min(asks)


def v(source: str, direction: int, strength: float) -> Vote:
    return Vote(source, direction, strength, source)


@pytest.mark.parametrize(
    ("votes", "direction", "confidence", "agreement"),
    [
        # everyone firmly agrees: raw 1, the only way to 100
        (
            [
                v("momentum", 1, 1),
                v("trend", 1, 1),
                v("mean_reversion", 1, 1),
                v("breakout", 1, 1),
                v("volume", 1, 1),
            ],
            1,
            100.0,
            1.0,
        ),
        # one dissenter: raw (3.8 - 0.8) / 4.6 = 0.652, between the knots for 85 and 90
        (
            [
                v("momentum", -1, 1),
                v("trend", -1, 1),
                v("mean_reversion", 1, 1),
                v("breakout", -1, 1),
                v("volume", -1, 1),
            ],
            -1,
            85.87,
            0.826,
        ),
        # weak votes lower conviction: raw 0.45, just above the median of real readings
        ([v("momentum", 1, 0.45), v("trend", 1, 0.45), v("breakout", 1, 0.45)], 1, 46.07, 1.0),
        # unanimous at full strength (100 before calibration), but 2.6 of 4.6 voted
        (
            [
                v("momentum", 1, 1),
                v("breakout", 1, 1),
                v("volume", 1, 1),
                v("trend", 0, 0),
                v("mean_reversion", 0, 0),
            ],
            1,
            66.5,
            1.0,
        ),
        # below quorum (less than half the weight voted): no consensus
        (
            [
                v("momentum", 1, 1),
                v("volume", 1, 1),
                v("trend", 0, 0),
                v("breakout", 0, 0),
                v("mean_reversion", 0, 0),
            ],
            0,
            0.0,
            0.0,
        ),
        # a perfect tie: no consensus
        (
            [v("momentum", 1, 1), v("breakout", -1, 1), v("volume", 0, 0), v("trend", 0, 0)],
            0,
            0.0,
            0.0,
        ),
    ],
)
def test_weigh_table(
    votes: list[Vote], direction: int, confidence: float, agreement: float
) -> None:
    result = weigh(votes, DEFAULT_WEIGHTS)
    assert result.direction == direction
    assert result.confidence == pytest.approx(confidence, abs=0.01)
    assert result.agreement == pytest.approx(agreement, abs=0.001)


def test_weights_are_configurable() -> None:
    votes = [v("momentum", 1, 1), v("trend", -1, 1)]
    assert weigh(votes, {"momentum": 3.0, "trend": 1.0}).direction == 1
    assert weigh(votes, {"momentum": 1.0, "trend": 3.0}).direction == -1


def test_cooldown_stops_the_same_signal_every_bar() -> None:
    long_trend = series([0.004 if i % 4 else -0.001 for i in range(140)])
    eager = SignalEngine(EngineConfig(base_threshold=0, cooldown_bars=0))
    patient = SignalEngine(EngineConfig(base_threshold=0, cooldown_bars=10))
    eager_buys = sum(
        1 for bar in long_trend if (d := eager.observe(bar)) and d.action is Action.BUY
    )
    patient_buys = sum(
        1 for bar in long_trend if (d := patient.observe(bar)) and d.action is Action.BUY
    )
    assert eager_buys > 3 * patient_buys > 0


def test_exits_come_from_atr_with_two_to_one_reward() -> None:
    engine = SignalEngine(EngineConfig(base_threshold=0, cooldown_bars=0))
    decision = None
    for bar in UPTREND:
        decision = engine.observe(bar) or decision
    assert decision is not None and decision.action is Action.BUY
    reward = decision.target_price - decision.entry_price
    risk = decision.entry_price - decision.stop_price
    assert reward / risk == pytest.approx(2.0, rel=0.01)
    assert "sources say BUY" in decision.reasoning and "BULL market" in decision.reasoning
