"""Price sources. `synthetic` is a seeded random walk: reproducible, no network."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from argo.signal import AssetType

DEFAULT_SYMBOLS = ("AAPL", "NVDA", "TSLA", "MSFT", "BTC-USD", "ETH-USD")

_START_PRICES = {
    "AAPL": 190.0,
    "NVDA": 480.0,
    "TSLA": 240.0,
    "MSFT": 370.0,
    "BTC-USD": 43000.0,
    "ETH-USD": 2300.0,
}


def asset_type_of(symbol: str) -> AssetType:
    """Crypto pairs are quoted against USD (`BTC-USD`); everything else is a stock."""
    return AssetType.CRYPTO if symbol.endswith("-USD") else AssetType.STOCK


@dataclass(frozen=True, slots=True)
class Tick:
    symbol: str
    price: float


class PriceSource(Protocol):
    """Yields the next price of a symbol each time it is asked."""

    name: str

    def next_tick(self, symbol: str) -> Tick: ...


class SyntheticPriceSource:
    """A seeded geometric random walk per symbol, with occasional regime shifts.

    Crypto moves about three times as much as stocks. Deterministic for a seed.
    """

    name = "synthetic"

    def __init__(self, symbols: Sequence[str], seed: int = 7) -> None:
        self._rng = random.Random(seed)
        self._prices = {s: _START_PRICES.get(s, 100.0) for s in symbols}
        self._drift = {s: 0.0 for s in symbols}

    def next_tick(self, symbol: str) -> Tick:
        price = self._prices.setdefault(symbol, 100.0)
        if self._rng.random() < 0.02:
            self._drift[symbol] = self._rng.gauss(0.0, 0.002)
        volatility = 0.006 if asset_type_of(symbol) is AssetType.CRYPTO else 0.002
        step = self._drift.get(symbol, 0.0) + self._rng.gauss(0.0, volatility)
        price = max(price * math.exp(step), 0.01)
        self._prices[symbol] = price
        return Tick(symbol, price)
