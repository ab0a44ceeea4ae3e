"""The values the execution hook passes around: orders, fills, trades, skip reasons."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from argo.signal import Action


class SkipReason(StrEnum):
    """Why a stored signal was not passed to the broker (the `reason` label and log field)."""

    HALTED_DAILY_LOSS = "halted_daily_loss"  # today's realized loss reached the limit
    HALTED_DRAWDOWN = "halted_drawdown"  # the drawdown from the equity peak reached the limit
    MAX_OPEN_POSITIONS = "max_open_positions"  # as many positions open (or ordered) as allowed
    MAX_POSITION_PER_SYMBOL = "max_position_per_symbol"  # this symbol holds its maximum
    BROKER_REJECTED = "broker_rejected"  # the broker refused the order
    UNFILLED = "unfilled"  # the run ended before the next bar could fill the order


@dataclass(frozen=True, slots=True)
class Order:
    """A market order for one stored signal, sent to the broker."""

    signal_id: str
    symbol: str
    action: Action
    placed_at: datetime


@dataclass(frozen=True, slots=True)
class Fill:
    """The broker filled `order_id` for a signal: what `signals.order_id`, `fill_price` and
    `executed_at` record, with a `signal.executed` event, in one transaction."""

    signal_id: str
    order_id: str
    symbol: str
    action: Action
    fill_price: float
    executed_at: datetime


@dataclass(frozen=True, slots=True)
class Trade:
    """A traded signal as stored: open while `profit_loss_pct` is None."""

    signal_id: str
    symbol: str
    action: Action
    fill_price: float
    executed_at: datetime
    profit_loss_pct: float | None = None
    closed_at: datetime | None = None

    @property
    def open(self) -> bool:
        return self.profit_loss_pct is None


@dataclass(frozen=True, slots=True)
class Skip:
    """A stored signal that was not executed, and why."""

    signal_id: str
    symbol: str
    reason: SkipReason
