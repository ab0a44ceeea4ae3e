"""The paper broker fills at the NEXT bar's open of the order's symbol, slipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from argo.execution.paper import PaperBroker, paper_order_id, slipped
from argo.prices.sources import Bar
from argo.signal import Action
from argo.trades import Order

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def bar(symbol: str, open_: float, minute: int = 0) -> Bar:
    moment = NOW + timedelta(minutes=minute)
    return Bar(symbol, moment, open_, open_ * 1.01, open_ * 0.99, open_, 1000.0)


def test_an_order_fills_at_the_next_bar_of_its_symbol_only() -> None:
    broker = PaperBroker(slippage_bps=0)
    order_id = broker.submit(Order("a" * 16, "AAPL", Action.BUY, NOW))
    assert broker.on_bar(bar("MSFT", 300.0), NOW) == []
    later = NOW + timedelta(seconds=5)
    [fill] = broker.on_bar(bar("AAPL", 101.5, 1), later)
    assert (fill.order_id, fill.signal_id, fill.fill_price, fill.executed_at) == (
        order_id,
        "a" * 16,
        101.5,
        later,
    )
    assert broker.on_bar(bar("AAPL", 102.0, 2), later) == []  # filled once


@pytest.mark.parametrize(("action", "expected"), [(Action.BUY, 100.25), (Action.SELL, 99.75)])
def test_slippage_goes_against_the_trader(action: Action, expected: float) -> None:
    broker = PaperBroker(slippage_bps=25)
    broker.submit(Order("b" * 16, "BTC-USD", action, NOW))
    [fill] = broker.on_bar(bar("BTC-USD", 100.0), NOW)
    assert fill.fill_price == pytest.approx(expected)
    assert slipped(100.0, action, 25) == pytest.approx(expected)


def test_cancel_all_returns_the_unfilled_orders() -> None:
    broker = PaperBroker()
    order = Order("c" * 16, "AAPL", Action.SELL, NOW)
    broker.submit(order)
    assert broker.cancel_all() == [order]
    assert broker.on_bar(bar("AAPL", 100.0), NOW) == []


def test_order_ids_are_unique_and_bad_slippage_is_refused() -> None:
    assert len({paper_order_id() for _ in range(100)}) == 100
    assert paper_order_id().startswith("paper-")
    with pytest.raises(ValueError, match="slippage_bps"):
        PaperBroker(slippage_bps=-1)
