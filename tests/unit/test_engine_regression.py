"""The engine's decisions, bit for bit, against a pinned fixture.

tests/data/engine_signals.jsonl holds every decision (floats as repr) that the engine made
on the shipped samples and on fixed-seed synthetic runs. It was pinned before the engine
went incremental and regenerated once on purpose, by the calibrated confidence (issue 16).
Regenerate it only on purpose (a deliberate change of the strategy):
`python -m tests.unit.test_engine_regression`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from argo.engine.decide import HISTORY, Decision, EngineConfig, SignalEngine
from argo.prices.sources import (
    DEFAULT_SYMBOLS,
    Bar,
    CsvPriceSource,
    PriceSource,
    SyntheticPriceSource,
)

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "data" / "engine_signals.jsonl"
SAMPLES = ROOT / "argo" / "samples"
OPEN = EngineConfig(base_threshold=0.0, cooldown_bars=0)
REWEIGHED = EngineConfig(
    base_threshold=50.0,
    weights={"momentum": 2.0, "trend": 0.5, "breakout": 1.5, "volume": 1.0},
    cooldown_bars=3,
    stop_atr=2.0,
    target_atr=2.5,
)


@dataclass(frozen=True)
class Case:
    """One run: `warm` bars per symbol recorded, then up to `cycles` observed."""

    name: str
    source: Callable[[], PriceSource]
    symbols: tuple[str, ...]
    config: EngineConfig
    warm: int = HISTORY
    cycles: int = 100_000


def _csv(name: str) -> Callable[[], PriceSource]:
    return lambda: CsvPriceSource(SAMPLES / name)


def _synthetic(symbols: tuple[str, ...], seed: int) -> Callable[[], PriceSource]:
    return lambda: SyntheticPriceSource(symbols, seed)


TWO = ("AAPL", "BTC-USD")
CASES = [
    Case("goog-default", _csv("GOOG-2004-2006.csv"), ("GOOG",), EngineConfig()),
    Case("goog-open", _csv("GOOG-2004-2006.csv"), ("GOOG",), OPEN, warm=0),
    Case("btc-default", _csv("BTC-USD-monthly.csv"), ("BTC-USD",), EngineConfig()),
    Case("btc-open", _csv("BTC-USD-monthly.csv"), ("BTC-USD",), OPEN, warm=0),
    Case(
        "synthetic-default",
        _synthetic(DEFAULT_SYMBOLS, 7),
        DEFAULT_SYMBOLS,
        EngineConfig(),
        cycles=1300,
    ),
    Case("synthetic-open", _synthetic(TWO, 11), TWO, OPEN, cycles=600),
    Case("synthetic-reweighed", _synthetic(TWO, 5), TWO, REWEIGHED, cycles=300),
]


def _record(case: str, index: int, bar: Bar, decision: Decision) -> str:
    """One decision as a JSON line; floats as repr, so equal text means equal bits."""
    return json.dumps(
        {
            "case": case,
            "bar": index,
            "symbol": bar.symbol,
            "time": bar.time.isoformat(),
            "action": decision.action.value,
            "entry_price": repr(decision.entry_price),
            "target_price": repr(decision.target_price),
            "stop_price": repr(decision.stop_price),
            "confidence": repr(decision.confidence),
            "agreement": repr(decision.agreement),
            "regime": decision.regime.value,
            "reasoning": decision.reasoning,
        }
    )


def run(case: Case) -> Iterator[str]:
    """Every decision the engine makes in `case`, as fixture lines."""
    source, engine = case.source(), SignalEngine(case.config)
    for _ in range(case.warm):
        for symbol in case.symbols:
            if (bar := source.next_bar(symbol)) is not None:
                engine.warm(bar)
    index = 0
    for _ in range(case.cycles):
        bars = [source.next_bar(symbol) for symbol in case.symbols]
        if all(bar is None for bar in bars):
            return
        for bar in bars:
            if bar is None:
                continue
            index += 1
            if (decision := engine.observe(bar)) is not None:
                yield _record(case.name, index, bar, decision)


def _pinned() -> dict[str, list[str]]:
    pinned: dict[str, list[str]] = {case.name: [] for case in CASES}
    for line in FIXTURE.read_text(encoding="utf-8").splitlines():
        pinned[json.loads(line)["case"]].append(line)
    return pinned


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_decisions_match_the_pinned_fixture(case: Case) -> None:
    expected = _pinned()[case.name]
    actual = list(run(case))
    for want, got in zip(expected, actual, strict=False):
        assert got == want
    assert len(actual) == len(expected)


def test_the_fixture_covers_every_regime_and_action() -> None:
    records = [json.loads(line) for lines in _pinned().values() for line in lines]
    assert len(records) > 500
    assert {r["regime"] for r in records} == {"BULL", "BEAR", "CHOP", "CRISIS"}
    assert {r["action"] for r in records} == {"BUY", "SELL"}


def write_fixture() -> int:
    """Regenerate the fixture from the engine as it is now; returns the line count."""
    lines = [line for case in CASES for line in run(case)]
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return len(lines)


if __name__ == "__main__":
    print(f"{FIXTURE.relative_to(ROOT)}: {write_fixture()} decisions", file=sys.stderr)
