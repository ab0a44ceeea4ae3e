"""Price sources behind one small interface: `next_bar(symbol)` → an OHLCV Bar or None.

`synthetic` is a seeded regime-switching model (trend, chop, crash) for stocks and
crypto; `csv:PATH` replays OHLCV bars from a file (columns in docs/generator.md);
`http:…` asks Alpha Vantage (argo/prices/http.py).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
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
class Bar:
    """One OHLCV bar of a symbol."""

    symbol: str
    time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


class PriceSource(Protocol):
    """Yields the next bar of a symbol each time it is asked; None when exhausted."""

    name: str

    def next_bar(self, symbol: str) -> Bar | None: ...


class MarketState(Enum):
    """The hidden state of the synthetic market: (drift, volatility multiplier, volume)."""

    UPTREND = (0.0012, 1.0, 1.0)
    DOWNTREND = (-0.0010, 1.1, 1.1)
    CHOP = (0.0, 0.8, 0.8)
    CRASH = (-0.0080, 3.0, 3.0)


# Row: from-state → probabilities of the next state (stays put most of the time).
_TRANSITIONS = {
    MarketState.UPTREND: (0.975, 0.005, 0.018, 0.002),
    MarketState.DOWNTREND: (0.008, 0.970, 0.020, 0.002),
    MarketState.CHOP: (0.015, 0.012, 0.970, 0.003),
    MarketState.CRASH: (0.020, 0.080, 0.050, 0.850),
}
_STATES = tuple(MarketState)


@dataclass
class _Walk:
    price: float
    state: MarketState
    anchor: float
    time: datetime


class SyntheticPriceSource:
    """A seeded regime-switching random walk per symbol, as OHLCV bars.

    Each symbol moves between uptrend, downtrend, chop (mean-reverting around an
    anchor) and crash; crypto moves about three times as much as stocks; volume
    swells with the size of the move and in a crash. Deterministic for a seed.
    """

    name = "synthetic"

    def __init__(
        self,
        symbols: Sequence[str],
        seed: int = 7,
        bar_seconds: float = 60.0,
        start: datetime | None = None,
    ) -> None:
        self._rng = random.Random(seed)
        self._bar = timedelta(seconds=bar_seconds)
        begin = start or datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
        self._walks = {s: self._new_walk(s, begin) for s in symbols}

    def _new_walk(self, symbol: str, begin: datetime) -> _Walk:
        price = _START_PRICES.get(symbol, 100.0)
        return _Walk(price, self._rng.choice(_STATES[:3]), price, begin)

    def next_bar(self, symbol: str) -> Bar:
        walk = self._walks.get(symbol) or self._walks.setdefault(
            symbol, self._new_walk(symbol, datetime(2026, 1, 5, 14, 30, tzinfo=UTC))
        )
        walk.state = self._rng.choices(_STATES, weights=_TRANSITIONS[walk.state])[0]
        drift, vol_mult, volume_mult = walk.state.value
        base_vol = 0.006 if asset_type_of(symbol) is AssetType.CRYPTO else 0.002
        volatility = base_vol * vol_mult
        if walk.state is MarketState.CHOP:
            drift = 0.05 * math.log(walk.anchor / walk.price)
        else:
            walk.anchor = walk.price
        step = drift * (3 if asset_type_of(symbol) is AssetType.CRYPTO else 1)
        ret = step + self._rng.gauss(0.0, volatility)
        open_ = walk.price
        close = max(open_ * math.exp(ret), 0.01)
        wick = abs(self._rng.gauss(0.0, volatility / 2))
        high = max(open_, close) * (1 + wick)
        low = min(open_, close) * (1 - abs(self._rng.gauss(0.0, volatility / 2)))
        surge = 1 + abs(ret) / volatility
        volume = 1_000_000 * volume_mult * surge * math.exp(self._rng.gauss(0.0, 0.25))
        walk.price = close
        walk.time += self._bar
        return Bar(symbol, walk.time, open_, high, low, close, round(volume))


_ALIASES = {
    "date": "time",
    "time": "time",
    "timestamp": "time",
    "datetime": "time",
    "": "time",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "volume": "volume",
    "symbol": "symbol",
}


class CsvError(ValueError):
    """The CSV file cannot be replayed (missing column, bad number, bad date)."""


class CsvPriceSource:
    """Replays OHLCV rows from a CSV file, in file order, once.

    Columns (case-insensitive): date (or time/timestamp/an unnamed first column;
    ISO-8601, a date alone means 00:00 UTC), open, high, low, close, volume, and
    optionally symbol. Without a symbol column every row belongs to every symbol
    asked for.
    """

    def __init__(self, path: Path) -> None:
        self.name = f"csv:{path.name}"[:64]
        self._rows = _read_rows(path)
        self._positions: dict[str, int] = {}
        self.symbols = tuple(dict.fromkeys(row.symbol for row in self._rows if row.symbol))
        """The file's own symbols, in order of appearance (none without a symbol column)."""

    def bars_for(self, symbol: str) -> int:
        """How many rows serve `symbol` in all."""
        return sum(1 for row in self._rows if row.symbol in ("", symbol))

    def next_bar(self, symbol: str) -> Bar | None:
        position = self._positions.get(symbol, 0)
        while position < len(self._rows):
            row = self._rows[position]
            position += 1
            if row.symbol in ("", symbol):
                self._positions[symbol] = position
                return replace(row, symbol=symbol)
        self._positions[symbol] = position
        return None


def _read_rows(path: Path) -> list[Bar]:
    """Every row as a Bar; `symbol` is "" for rows that serve any symbol."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise CsvError(f"{path}: empty file")
        columns = {_ALIASES.get(name.strip().lower()): i for i, name in enumerate(header)}
        missing = {"time", "open", "high", "low", "close", "volume"} - set(columns)
        if missing:
            raise CsvError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        return [
            _parse(path, number, line, columns) for number, line in enumerate(reader, 2) if line
        ]


def _parse(path: Path, number: int, line: list[str], columns: dict[str | None, int]) -> Bar:
    try:
        moment = datetime.fromisoformat(line[columns["time"]].strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        values = [float(line[columns[c]]) for c in ("open", "high", "low", "close", "volume")]
    except (ValueError, IndexError) as exc:
        raise CsvError(f"{path}:{number}: {exc}") from exc
    if not all(math.isfinite(v) and v >= 0 for v in values) or min(values[:4]) <= 0:
        raise CsvError(f"{path}:{number}: prices must be finite and > 0")
    symbol = line[columns["symbol"]].strip().upper() if "symbol" in columns else ""
    return Bar(symbol, moment.astimezone(UTC), *values)
