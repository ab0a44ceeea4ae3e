"""The seam to a broker: what the executor needs from one, and nothing more."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from argo.prices.sources import Bar
from argo.trades import Fill, Order


class OrderRejectedError(Exception):
    """The broker refused the order (the signal is skipped as `broker_rejected`)."""


class Broker(Protocol):
    """Takes market orders and reports their fills as bars arrive.

    `submit` accepts an order and returns its order id (or raises OrderRejectedError);
    `on_bar` is called with every bar the generator reads, in order, and the moment it
    read it, and returns the fills that bar produced; `cancel_all` drops what has not
    filled (at shutdown) and returns those orders.
    """

    name: str

    def submit(self, order: Order) -> str: ...

    def on_bar(self, bar: Bar, now: datetime) -> list[Fill]: ...

    def cancel_all(self) -> list[Order]: ...
