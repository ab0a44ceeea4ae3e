"""The risk book: each limit trips and stops new executions; presets tighten the limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from argo.execution.risk import PRESETS, RiskBook, RiskLimits, effective_limits
from argo.signal import Action
from argo.trades import SkipReason, Trade

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def book(**limits: float) -> RiskBook:
    return RiskBook(RiskLimits(**limits))  # type: ignore[arg-type]


def test_max_open_positions_counts_every_symbol() -> None:
    risk = book(max_open_positions=2, max_position_per_symbol=5)
    risk.reserve("a", "AAPL")
    assert risk.check("MSFT", NOW) is None
    risk.reserve("b", "MSFT")
    assert risk.check("NVDA", NOW) is SkipReason.MAX_OPEN_POSITIONS
    risk.close("a", 1.0, NOW)
    assert risk.check("NVDA", NOW) is None


def test_max_position_per_symbol_leaves_other_symbols_free() -> None:
    risk = book(max_open_positions=10, max_position_per_symbol=1)
    risk.reserve("a", "AAPL")
    assert risk.check("AAPL", NOW) is SkipReason.MAX_POSITION_PER_SYMBOL
    assert risk.check("MSFT", NOW) is None
    risk.release("a")  # never filled
    assert risk.check("AAPL", NOW) is None


def test_daily_loss_limit_halts_until_the_next_utc_day() -> None:
    risk = book(daily_loss_limit_pct=2.0, max_drawdown_pct=50.0, position_pct=10.0)
    risk.reserve("a", "AAPL")
    risk.close("a", -15.0, NOW)  # 10 % of equity at -15 % = -1.5 % of equity
    assert risk.daily_pnl_pct(NOW) == pytest.approx(-1.5)
    assert risk.halt(NOW) is None
    risk.reserve("b", "AAPL")
    risk.close("b", -5.0, NOW + timedelta(hours=1))  # -0.5 % more: -2.0 % today
    assert risk.check("MSFT", NOW + timedelta(hours=1)) is SkipReason.HALTED_DAILY_LOSS
    late = datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC)
    assert risk.check("MSFT", late) is SkipReason.HALTED_DAILY_LOSS
    assert risk.check("MSFT", late + timedelta(seconds=1)) is None  # a new UTC day


def test_max_drawdown_halts_from_the_equity_peak() -> None:
    risk = book(daily_loss_limit_pct=100.0, max_drawdown_pct=5.0, position_pct=50.0)
    risk.reserve("w", "AAPL")
    risk.close("w", 20.0, NOW - timedelta(days=3))  # equity 110: the peak
    risk.reserve("l", "AAPL")
    risk.close("l", -10.0, NOW - timedelta(days=2))  # 105: 4.5 % below the peak
    assert risk.drawdown_pct == pytest.approx(100 * 5 / 110)
    assert risk.check("AAPL", NOW) is None
    risk.reserve("l2", "AAPL")
    risk.close("l2", -2.0, NOW - timedelta(days=1))  # 104: 5.45 % below
    assert risk.check("AAPL", NOW) is SkipReason.HALTED_DRAWDOWN
    assert risk.check("AAPL", NOW + timedelta(days=30)) is SkipReason.HALTED_DRAWDOWN


def test_a_halt_outranks_the_position_limits() -> None:
    risk = book(max_open_positions=1, daily_loss_limit_pct=1.0)
    risk.reserve("a", "AAPL")
    risk.reserve("b", "MSFT")
    risk.close("b", -50.0, NOW)
    assert risk.check("AAPL", NOW) is SkipReason.HALTED_DAILY_LOSS


def test_restore_rebuilds_positions_and_the_equity_curve() -> None:
    opened = NOW - timedelta(days=2)
    trades = [
        Trade("open1", "AAPL", Action.BUY, 100.0, opened),
        Trade("won", "MSFT", Action.BUY, 50.0, opened, 30.0, NOW - timedelta(days=1)),
        Trade("lost", "MSFT", Action.SELL, 50.0, opened, -20.0, NOW - timedelta(hours=1)),
    ]
    risk = book(position_pct=10.0, daily_loss_limit_pct=2.0)
    risk.restore(reversed(trades))  # the closing order decides, not the listing order
    assert risk.open_positions == 1 and risk.holds("open1")
    assert risk.equity == pytest.approx(101.0)
    assert risk.drawdown_pct == pytest.approx(100 * 2 / 103)
    assert risk.daily_pnl_pct(NOW) == pytest.approx(-2.0)
    assert risk.check("NVDA", NOW) is SkipReason.HALTED_DAILY_LOSS


def test_a_preset_only_tightens() -> None:
    loose = RiskLimits(10, 3, 8.0, 20.0, 25.0)
    strict = effective_limits(loose, "strict")
    assert strict == PRESETS["strict"]
    tight = RiskLimits(1, 1, 1.0, 2.0, 1.0)
    assert effective_limits(tight, "challenge") == tight
    assert effective_limits(loose, None) == loose
    with pytest.raises(ValueError, match="unknown prop_firm 'ftmo'"):
        effective_limits(loose, "ftmo")


@pytest.mark.parametrize(
    "limits",
    [
        {"max_open_positions": 0},
        {"max_position_per_symbol": 0},
        {"daily_loss_limit_pct": 0.0},
        {"max_drawdown_pct": 101.0},
        {"position_pct": -1.0},
    ],
)
def test_limits_out_of_range_are_refused(limits: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RiskLimits(**limits)  # type: ignore[arg-type]


def test_a_naive_time_is_refused() -> None:
    risk = book()
    with pytest.raises(ValueError, match="naive"):
        risk.close("a", 1.0, datetime(2026, 1, 1))
