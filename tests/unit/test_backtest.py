"""`argo backtest`: the replay, its report, the calibration targets, and the command."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from argo.cli.main import main
from argo.engine.decide import EngineConfig
from argo.engine.outcomes import OutcomeTracker
from argo.prices.sources import DEFAULT_SYMBOLS, Bar, CsvPriceSource, SyntheticPriceSource
from argo.reports.backtest import replay
from argo.reports.reliability import Trade, report
from argo.signal import Action, AssetType, Outcome, OutcomeKind, Regime, Signal
from tests.kit.factories import bars_from
from tests.support import ROOT

SAMPLES = ROOT / "argo" / "samples"
EVERY_CONSENSUS = EngineConfig(base_threshold=0.0, cooldown_bars=0)


class ListSource:
    """A price source over fixed bars."""

    name = "list"

    def __init__(self, bars: list[Bar]) -> None:
        self._bars = iter(bars)

    def next_bar(self, symbol: str) -> Bar | None:
        return next(self._bars, None)


def make_signal(confidence: float) -> Signal:
    """A BUY at 171.25, target 180.5, stop 165."""
    return Signal.create(
        symbol="AAPL",
        action=Action.BUY,
        entry_price=171.25,
        target_price=180.5,
        stop_price=165.0,
        confidence=confidence,
        strategy="test",
        asset_type=AssetType.STOCK,
        data_source="unit-test",
        timestamp="2026-11-22T10:00:00.000001Z",
        reasoning="r",
        regime=Regime.BULL,
    )


def trade(confidence: float, kind: OutcomeKind | None, pnl: float = 0.0) -> Trade:
    signal = make_signal(confidence)
    closed = datetime(2026, 11, 23, tzinfo=UTC)
    outcome = None if kind is None else Outcome(signal.signal_id, "AAPL", kind, 1.0, pnl, closed)
    return Trade(signal, outcome)


def test_the_report_counts_rates_and_bands() -> None:
    trades = [
        trade(40.0, OutcomeKind.LOSS, -1.5),
        trade(40.0, OutcomeKind.EXPIRED, 0.5),
        trade(89.0, OutcomeKind.WIN, 3.0),
        trade(100.0, OutcomeKind.WIN, 3.0),
        trade(100.0, None),
    ]
    result = report(trades).to_json()
    assert (result["signals"], result["open"], result["wins"]) == (5, 1, 2)
    assert result["win_rate"] == 0.5 and result["avg_profit_loss_pct"] == 1.25
    assert result["exactly_100"] == 2
    bands = {(b["low"], b["high"]): b for b in result["by_confidence"]}
    assert bands[(0.0, 50.0)]["win_rate"] == 0.0 and bands[(0.0, 50.0)]["expired"] == 1
    assert bands[(88.0, 90.0)]["win_rate"] == 1.0
    assert bands[(95.0, 100.0)]["signals"] == 2 and bands[(95.0, 100.0)]["open"] == 1
    assert bands[(50.0, 70.0)]["win_rate"] is None
    assert sum(h["signals"] for h in result["histogram"]) == 5
    assert result["histogram"][-1] == {"low": 95.0, "high": 100.0, "signals": 2}


def test_the_tracker_expires_after_its_bars() -> None:
    tracker = OutcomeTracker(timedelta.max, expire_bars=2)
    tracker.track([make_signal(90.0)])
    quiet = Bar("AAPL", datetime(2027, 1, 1, tzinfo=UTC), 171.0, 172.0, 170.0, 171.5, 1.0)
    assert tracker.check(quiet, quiet.time) == []
    [outcome] = tracker.check(quiet, quiet.time)
    assert outcome.outcome is OutcomeKind.EXPIRED and outcome.exit_price == 171.5
    assert tracker.open_count == 0


def test_a_replay_judges_its_signals_on_later_bars_only() -> None:
    rising = bars_from([0.004 if i % 4 else -0.001 for i in range(200)], [0.001] * 200, [1e6] * 200)
    trades = replay(ListSource(rising), ["X"], EVERY_CONSENSUS, horizon=5)
    assert trades and all(t.signal.symbol == "X" for t in trades)
    by_time = {b.time: b for b in rising}
    for t in trades:
        assert t.signal.timestamp.endswith("Z")
        if t.outcome is not None:
            opened = datetime.fromisoformat(t.signal.timestamp.replace("Z", "+00:00"))
            assert t.outcome.closed_at > opened and t.outcome.closed_at in by_time
    assert any(t.outcome and t.outcome.outcome is OutcomeKind.WIN for t in trades)


def _win_rate(trades: list[Trade], low: float, high: float) -> float:
    closed = [t for t in trades if t.outcome and low <= t.signal.confidence < high]
    return sum(t.outcome.outcome is OutcomeKind.WIN for t in closed if t.outcome) / len(closed)


@pytest.mark.parametrize("config", [EngineConfig(), EVERY_CONSENSUS], ids=["default", "all"])
@pytest.mark.parametrize("sample", ["GOOG-2004-2006.csv", "BTC-USD-monthly.csv", "synthetic"])
def test_few_signals_are_exactly_100(sample: str, config: EngineConfig) -> None:
    if sample == "synthetic":
        trades = replay(
            SyntheticPriceSource(DEFAULT_SYMBOLS, 7), DEFAULT_SYMBOLS, config, bars=3000
        )
    else:
        trades = replay(CsvPriceSource(SAMPLES / sample), ["X"], config)
    assert trades
    assert sum(t.signal.confidence == 100.0 for t in trades) < 0.05 * len(trades)


def test_the_hit_rate_rises_with_confidence() -> None:
    synthetic = replay(
        SyntheticPriceSource(DEFAULT_SYMBOLS, 7), DEFAULT_SYMBOLS, EVERY_CONSENSUS, bars=3000
    )
    rates = [_win_rate(synthetic, low, high) for low, high in ((0, 50), (50, 88), (88, 101))]
    assert rates == sorted(rates) and rates[-1] - rates[0] > 0.2
    goog = replay(CsvPriceSource(SAMPLES / "GOOG-2004-2006.csv"), ["GOOG"], EVERY_CONSENSUS)
    assert _win_rate(goog, 0, 50) < _win_rate(goog, 50, 101)


def test_the_command_reports_json_and_touches_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "signals.db"
    goog = f"csv:{SAMPLES / 'GOOG-2004-2006.csv'}"
    args = ["backtest", "--source", goog, "--symbols", "GOOG", "--threshold", "0", "--json"]
    monkeypatch.chdir(tmp_path)
    env = {"ARGO_DB": str(db), "ARGO_AUDIT_LOG": str(tmp_path / "a.log")}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []
    document = json.loads(result.stdout)
    assert {"signals", "win_rate", "avg_profit_loss_pct", "by_confidence"} <= set(document)
    assert document["signals"] == sum(b["signals"] for b in document["by_confidence"])
    assert not db.exists() and not (tmp_path / "a.log").exists()


def test_the_command_prints_a_table() -> None:
    result = CliRunner().invoke(main, ["backtest", "--bars", "300", "--symbols", "AAPL"])
    assert result.exit_code == 0, result.output
    assert "win rate" in result.stdout and "95-100" in result.stdout


def test_a_csv_without_symbols_needs_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["backtest", "--source", f"csv:{SAMPLES / 'GOOG-2004-2006.csv'}"]
    )
    assert result.exit_code == 2 and "--symbols" in result.output


def test_a_csv_with_a_symbol_column_replays_its_own_symbols(tmp_path: Path) -> None:
    rows = (SAMPLES / "GOOG-2004-2006.csv").read_text().splitlines()
    mixed = tmp_path / "mixed.csv"
    body = [f"{line},{'AAA' if i % 2 else 'BBB'}" for i, line in enumerate(rows[1:])]
    mixed.write_text("\n".join([rows[0] + ",symbol", *body]) + "\n")
    assert CsvPriceSource(mixed).symbols == ("BBB", "AAA")
    result = CliRunner().invoke(main, ["backtest", "--source", f"csv:{mixed}", "--json"])
    assert result.exit_code == 0, result.output
