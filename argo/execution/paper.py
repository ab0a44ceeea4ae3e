"""The paper broker: fills each order at the open of its symbol's NEXT bar, plus slippage.

The bars are the ones the generator reads from its price source, so a paper fill is the
price the market offered right after the signal, never the signal's own entry (the close
of the bar that produced it). Slippage is charged against the trader: a BUY pays
`open * (1 + bps / 10000)`, a SELL receives `open * (1 - bps / 10000)`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from argo.prices.sources import Bar
from argo.signal import Action
from argo.trades import Fill, Order

BPS = 10_000.0


def slipped(price: float, action: Action, slippage_bps: float) -> float:
    """`price` moved against the trader by `slippage_bps` basis points."""
    sign = 1.0 if action is Action.BUY else -1.0
    return round(price * (1.0 + sign * slippage_bps / BPS), 6)


def paper_order_id() -> str:
    """A fresh order id of the paper broker: `paper-` and 20 hex digits."""
    return f"paper-{uuid.uuid4().hex[:20]}"


class PaperBroker:
    """Orders wait for the next bar of their symbol and fill at its open, slipped."""

    name = "paper"

    def __init__(
        self, slippage_bps: float = 0.0, new_order_id: Callable[[], str] = paper_order_id
    ) -> None:
        if not 0 <= slippage_bps < BPS:
            raise ValueError(f"slippage_bps must be in [0, {BPS:.0f}), got {slippage_bps}")
        self._slippage = slippage_bps
        self._new_id = new_order_id
        self._pending: dict[str, list[tuple[str, Order]]] = {}

    def submit(self, order: Order) -> str:
        """Accept `order`; it fills at the next bar of its symbol."""
        order_id = self._new_id()
        self._pending.setdefault(order.symbol, []).append((order_id, order))
        return order_id

    def on_bar(self, bar: Bar, now: datetime) -> list[Fill]:
        """Fill every order waiting for `bar.symbol` at this bar's open, as of `now` (the
        moment the generator read the bar: signal timestamps are on the same clock)."""
        waiting = self._pending.pop(bar.symbol, [])
        return [
            Fill(
                order.signal_id,
                order_id,
                order.symbol,
                order.action,
                slipped(bar.open, order.action, self._slippage),
                now,
            )
            for order_id, order in waiting
        ]

    def cancel_all(self) -> list[Order]:
        """Drop the orders still waiting; return them."""
        dropped = [order for waiting in self._pending.values() for _, order in waiting]
        self._pending.clear()
        return dropped
