"""Technical indicators over short windows of bars.

The pure functions define each indicator over a sequence of bars or closes.
`Indicators` keeps one symbol's readings current as bars arrive and reproduces those
functions bit for bit: every float comes from the same operations in the same order.
Each true range and close-to-close change is computed once, when its bar arrives;
the 20-bar high and low come from monotonic deques (O(1) amortized). Two things stay
proportional to their (fixed) windows, because no O(1) form gives the same bits: a
window mean is the builtin `sum` over the window kept in a bounded deque (a running
add-and-subtract total differs from it in the last bits, on most bars for closes),
and EMA(12)/EMA(26) are, by definition, seeded afresh at the start of the last 40
closes on every bar, so they are 39 steps each, not one. Nothing grows with the run.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence

from argo.prices.sources import Bar

EMA_WINDOW = 40
_CLOSES = 50  # the longest close window (SMA 50)
FAST, SLOW = 12, 26
_FAST_ALPHA = 2.0 / (FAST + 1)
_SLOW_ALPHA = 2.0 / (SLOW + 1)


def sma(values: Sequence[float], period: int) -> float:
    """Mean of the last `period` values."""
    window = values[-period:]
    return sum(window) / len(window)


def ema(values: Sequence[float], period: int) -> float:
    """Exponential moving average over `values`, seeded with the first value."""
    alpha = 2.0 / (period + 1)
    average = values[0]
    for value in values[1:]:
        average += alpha * (value - average)
    return average


def true_ranges(bars: Sequence[Bar]) -> list[float]:
    """True range of each bar after the first."""
    return [
        max(b.high - b.low, abs(b.high - a.close), abs(b.low - a.close))
        for a, b in itertools.pairwise(bars)
    ]


def atr(bars: Sequence[Bar], period: int = 14) -> float:
    """Average true range of the last `period` bars (simple average)."""
    ranges = true_ranges(bars[-(period + 1) :])
    return sum(ranges) / len(ranges) if ranges else 0.0


def rsi(closes: Sequence[float], period: int = 14) -> float:
    """Relative strength index (0-100) of the last `period` changes."""
    window = closes[-(period + 1) :]
    return _rsi(b - a for a, b in itertools.pairwise(window))


def _rsi(changes: Iterable[float]) -> float:
    """RSI from price changes, summed in order (naively, as ever)."""
    gains = losses = 0.0
    for change in changes:
        if change > 0:
            gains += change
        else:
            losses -= change
    if losses == 0:
        return 100.0 if gains > 0 else 50.0
    return 100.0 - 100.0 / (1.0 + gains / losses)


def rate_of_change(closes: Sequence[float], period: int) -> float:
    """Relative change over `period` bars."""
    return closes[-1] / closes[-1 - period] - 1.0


class RollingMax:
    """The largest of the last `size` values pushed: a monotonic deque, O(1) amortized."""

    __slots__ = ("_pushed", "_queue", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._pushed = 0
        self._queue: deque[tuple[int, float]] = deque()

    def push(self, value: float) -> None:
        queue = self._queue
        # Strictly smaller only: of equal values the oldest leads, as with max().
        while queue and queue[-1][1] < value:
            queue.pop()
        queue.append((self._pushed, value))
        if queue[0][0] <= self._pushed - self._size:
            queue.popleft()
        self._pushed += 1

    @property
    def value(self) -> float:
        return self._queue[0][1]


class RollingMin:
    """The smallest of the last `size` values pushed: a monotonic deque, O(1) amortized."""

    __slots__ = ("_pushed", "_queue", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._pushed = 0
        self._queue: deque[tuple[int, float]] = deque()

    def push(self, value: float) -> None:
        queue = self._queue
        while queue and queue[-1][1] > value:
            queue.pop()
        queue.append((self._pushed, value))
        if queue[0][0] <= self._pushed - self._size:
            queue.popleft()
        self._pushed += 1

    @property
    def value(self) -> float:
        return self._queue[0][1]


def _emas(closes: list[float]) -> tuple[float, float]:
    """EMA(FAST) and EMA(SLOW) of `closes`, both seeded with the first; one pass."""
    fast = slow = closes[0]
    fast_alpha, slow_alpha = _FAST_ALPHA, _SLOW_ALPHA
    for value in closes[1:]:
        fast += fast_alpha * (value - fast)
        slow += slow_alpha * (value - slow)
    return fast, slow


class Indicators:
    """One symbol's indicator readings as of its latest bar, kept current bar by bar.

    After `push(bar)`: `atr` is ATR(14), `fast_ema` and `slow_ema` EMA(12) and
    EMA(26) of the last 40 closes, and `high20`, `low20` and `volume20` the highest
    high, lowest low and mean volume of the 20 bars before this one. The readings
    few bars need are methods. Equal, bit for bit, to the functions above applied to
    all the bars pushed so far.
    """

    __slots__ = (
        "_changes",
        "_closes",
        "_highs",
        "_lows",
        "_ranges14",
        "_ranges50",
        "_volumes",
        "atr",
        "close",
        "count",
        "fast_ema",
        "high20",
        "low20",
        "open",
        "slow_ema",
        "volume",
        "volume20",
    )

    def __init__(self) -> None:
        self.count = 0
        self.open = self.close = self.volume = self.atr = 0.0
        self.fast_ema = self.slow_ema = 0.0
        self.high20 = self.low20 = self.volume20 = 0.0
        self._highs, self._lows = RollingMax(20), RollingMin(20)
        self._volumes: deque[float] = deque(maxlen=20)
        self._ranges14: deque[float] = deque(maxlen=14)
        self._ranges50: deque[float] = deque(maxlen=50)
        self._changes: deque[float] = deque(maxlen=14)
        # A list, not a deque: the EMAs walk a slice of it, and lists iterate faster.
        self._closes: list[float] = []

    @classmethod
    def of(cls, bars: Iterable[Bar]) -> Indicators:
        """The readings after pushing `bars` in order."""
        indicators = cls()
        for bar in bars:
            indicators.push(bar)
        return indicators

    def push(self, bar: Bar) -> None:
        """Take the next bar of the symbol."""
        high, low, close = bar.high, bar.low, bar.close
        if self.count:
            previous = self.close
            true_range = max(high - low, abs(high - previous), abs(low - previous))
            self._ranges14.append(true_range)
            self._ranges50.append(true_range)
            self._changes.append(close - previous)
            self.atr = sum(self._ranges14) / len(self._ranges14)
            self.high20, self.low20 = self._highs.value, self._lows.value
            self.volume20 = sum(self._volumes) / len(self._volumes)
        self._highs.push(high)
        self._lows.push(low)
        self._volumes.append(bar.volume)
        closes = self._closes
        closes.append(close)
        if len(closes) > _CLOSES:
            del closes[0]
        self.count += 1
        self.open, self.close, self.volume = bar.open, close, bar.volume
        self.fast_ema, self.slow_ema = _emas(closes[-EMA_WINDOW:])

    def close_ago(self, bars: int) -> float:
        """The close `bars` bars before the latest (at most 49)."""
        return self._closes[-1 - bars]

    def rate_of_change(self, bars: int) -> float:
        """Relative change of the close over `bars` bars."""
        return self.close / self._closes[-1 - bars] - 1.0

    def rsi(self) -> float:
        """RSI(14) of the closes."""
        return _rsi(self._changes)

    def sma20(self) -> float:
        window = self._closes[-20:]
        return sum(window) / len(window)

    def sma50(self) -> float:
        return sum(self._closes) / len(self._closes)

    def long_atr(self) -> float:
        """Mean true range of the last 50 bars (0.0 before the second bar)."""
        ranges = self._ranges50
        return sum(ranges) / len(ranges) if ranges else 0.0
