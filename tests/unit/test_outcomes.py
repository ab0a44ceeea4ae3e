"""Outcome tracking on scripted price paths (freezegun for expiry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from argo.engine.outcomes import OutcomeTracker, judge, profit_loss_pct
from argo.prices.sources import Bar
from argo.signal import Action, OutcomeKind
from argo.timeutil import utc_now
from tests.support import signal_payload

OPENED = "2026-11-22T10:00:00.000000Z"


def signal(action: Action = Action.BUY):  # type: ignore[no-untyped-def]
    from argo.signal import AssetType, Regime, Signal

    prices = (100.0, 110.0, 95.0) if action is Action.BUY else (100.0, 90.0, 105.0)
    return Signal.create(
        symbol="AAPL",
        action=action,
        entry_price=prices[0],
        target_price=prices[1],
        stop_price=prices[2],
        confidence=95.0,
        strategy="t",
        asset_type=AssetType.STOCK,
        data_source="test",
        timestamp=OPENED,
        reasoning="r",
        regime=Regime.BULL,
    )


def bar(low: float, high: float, close: float) -> Bar:
    return Bar("AAPL", datetime(2026, 11, 22, 10, 5, tzinfo=UTC), close, high, low, close, 1.0)


NOW = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("action", "path", "kind", "exit_price", "pnl"),
    [
        (Action.BUY, bar(99, 111, 108), OutcomeKind.WIN, 110.0, 10.0),
        (Action.BUY, bar(94, 101, 96), OutcomeKind.LOSS, 95.0, -5.0),
        (Action.BUY, bar(94, 112, 100), OutcomeKind.LOSS, 95.0, -5.0),  # both: the stop counts
        (Action.SELL, bar(89, 101, 92), OutcomeKind.WIN, 90.0, 10.0),
        (Action.SELL, bar(99, 106, 104), OutcomeKind.LOSS, 105.0, -5.0),
    ],
)
def test_target_and_stop(
    action: Action, path: Bar, kind: OutcomeKind, exit_price: float, pnl: float
) -> None:
    outcome = judge(signal(action), path, NOW, timedelta(hours=1))
    assert outcome is not None
    assert (outcome.outcome, outcome.exit_price, outcome.profit_loss_pct) == (kind, exit_price, pnl)


def test_a_quiet_bar_keeps_the_signal_open() -> None:
    assert judge(signal(), bar(99, 101, 100.5), NOW, timedelta(hours=1)) is None


def test_expiry_at_the_close_after_the_deadline() -> None:
    tracker = OutcomeTracker(expire_after=timedelta(minutes=30))
    tracker.track([signal()])
    with freeze_time("2026-11-22 10:29:59"):
        assert tracker.check(bar(99, 101, 100.5), utc_now()) == []
    with freeze_time("2026-11-22 10:30:00"):
        [outcome] = tracker.check(bar(99, 101, 100.5), utc_now())
    assert outcome.outcome is OutcomeKind.EXPIRED
    assert outcome.exit_price == 100.5 and outcome.profit_loss_pct == 0.5
    assert tracker.open_count == 0


def test_a_scripted_path_decides_once() -> None:
    tracker = OutcomeTracker(timedelta(days=1))
    tracker.track([signal()])
    decided = []
    for low, high in ((99, 102), (98, 104), (101, 110.5), (90, 120)):
        decided += tracker.check(bar(low, high, (low + high) / 2), NOW)
    assert [(o.outcome, o.exit_price) for o in decided] == [(OutcomeKind.WIN, 110.0)]


@pytest.mark.parametrize(
    ("action", "entry", "exit_price", "pnl"),
    [
        (Action.BUY, 200.0, 210.0, 5.0),
        (Action.SELL, 200.0, 190.0, 5.0),
        (Action.SELL, 200.0, 230.0, -15.0),
    ],
)
def test_profit_loss(action: Action, entry: float, exit_price: float, pnl: float) -> None:
    assert profit_loss_pct(action, entry, exit_price) == pnl


def test_outcome_payload_is_what_alpine_accepts() -> None:
    from alpine.validation import OutcomeIn
    from argo.outbox import outcome_event

    event = outcome_event(signal_payload()["signal_id"], "win", 180.5, 5.4, NOW, NOW)
    OutcomeIn.model_validate_json(event.payload)
