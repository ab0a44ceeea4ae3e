"""`argo run --auto-execute` in process on a real SQLite file: paper fills at the next bar,
P&L from the fill, risk limits that skip and halt, and the audit and metric trail."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from freezegun import freeze_time
from prometheus_client import CollectorRegistry

from argo.audit import AuditLog
from argo.audit_verify import verify
from argo.engine.decide import EngineConfig
from argo.engine.outcomes import OutcomeTracker, profit_loss_pct
from argo.execution.executor import Executor
from argo.execution.paper import PaperBroker, slipped
from argo.execution.risk import RiskBook, RiskLimits
from argo.generator import Generator, SignalFactory
from argo.metrics import GeneratorMetrics
from argo.prices.sources import Bar, SyntheticPriceSource
from argo.signal import Action, Outcome, OutcomeKind
from argo.signals import open_signals
from argo.trades import Fill, SkipReason
from tests.kit.factories import make_signals
from tests.support import cli

SYMBOLS = ["AAPL", "BTC-USD"]
LOOSE = RiskLimits(50, 50, 100.0, 100.0, 10.0)


class RecordingSource:
    """The synthetic source, remembering every bar it served per symbol."""

    def __init__(self) -> None:
        self._inner = SyntheticPriceSource(SYMBOLS, 3)
        self.name = self._inner.name
        self.served: dict[str, list[Bar]] = {s: [] for s in SYMBOLS}

    def next_bar(self, symbol: str) -> Bar | None:
        bar = self._inner.next_bar(symbol)
        if bar is not None:
            self.served[symbol].append(bar)
        return bar


class Rig:
    def __init__(self, tmp_path: Path, limits: RiskLimits, slippage_bps: float = 10.0) -> None:
        self.source = RecordingSource()
        self.store = open_signals(tmp_path / "signals.db")
        self.audit_path = tmp_path / "signals.log"
        self.audit = AuditLog(self.audit_path)
        self.registry = CollectorRegistry()
        metrics = GeneratorMetrics(self.registry)
        factory = SignalFactory(self.source, EngineConfig(base_threshold=0.0, cooldown_bars=0))
        self.executor = Executor(
            self.store, self.audit, PaperBroker(slippage_bps), RiskBook(limits), metrics
        )
        self.tracker = OutcomeTracker(expire_bars=4)
        self.generator = Generator(
            self.store, self.audit, factory, metrics, self.tracker, self.executor
        )
        factory.warm_up(SYMBOLS)
        self.executor.restore(self.tracker, datetime.now(UTC))

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)

    def audit_events(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.audit_path.read_text().splitlines()]

    def close(self) -> None:
        self.audit.close()
        self.store.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path, LOOSE)
    yield made
    made.close()


def test_fills_at_the_next_bar_and_pnl_from_the_fill(rig: Rig) -> None:
    stored_at: dict[str, int] = {}
    for _ in range(80):
        stored, _, _ = rig.generator.cycle(SYMBOLS)
        for signal in stored:
            stored_at[signal.signal_id] = len(rig.source.served[signal.symbol]) - 1
    rows = rig.store.connection.execute(
        "SELECT signal_id, symbol, action, entry_price, order_id, fill_price, outcome,"
        " exit_price, profit_loss_pct FROM signals WHERE order_id IS NOT NULL"
    ).fetchall()
    closed = [r for r in rows if r["outcome"] is not None]
    assert len(rows) >= 5 and len(closed) >= 3
    for row in rows:
        action = Action(row["action"])
        next_bar = rig.source.served[row["symbol"]][stored_at[row["signal_id"]] + 1]
        assert row["fill_price"] == pytest.approx(slipped(next_bar.open, action, 10.0))
        assert row["order_id"].startswith("paper-")
    for row in closed:
        action = Action(row["action"])
        expected = profit_loss_pct(action, row["fill_price"], row["exit_price"])
        assert row["profit_loss_pct"] == pytest.approx(expected)
    assert any(
        profit_loss_pct(Action(r["action"]), r["entry_price"], r["exit_price"])
        != r["profit_loss_pct"]
        for r in closed
    )
    # Each traded signal: creation, then execution, then (if closed) outcome, in outbox order.
    for row in closed:
        kinds = [
            e[0]
            for e in rig.store.connection.execute(
                "SELECT event_type FROM sync_outbox WHERE signal_id = ? ORDER BY id",
                (row["signal_id"],),
            )
        ]
        assert kinds == ["signal.created", "signal.executed", "signal.outcome"]
    executed = [e for e in rig.audit_events() if e["event"] == "signal.executed"]
    assert len(executed) == len(rows)
    assert verify(rig.audit_path, rig.store.connection).ok
    assert sum(
        rig.metric("argo_executions_total", symbol=s, action=a) or 0
        for s in SYMBOLS
        for a in ("BUY", "SELL")
    ) == len(rows)


def test_position_limits_skip_with_a_reason(tmp_path: Path) -> None:
    rig = Rig(tmp_path, RiskLimits(1, 1, 100.0, 100.0, 10.0))
    try:
        for _ in range(40):
            rig.generator.cycle(SYMBOLS)
        skipped = [e for e in rig.audit_events() if e["event"] == "signal.skipped"]
        reasons = {e["reason"] for e in skipped}
        assert "max_open_positions" in reasons
        counted = rig.metric("argo_executions_skipped_total", reason="max_open_positions")
        assert counted == sum(1 for e in skipped if e["reason"] == "max_open_positions")
        open_now = rig.store.connection.execute(
            "SELECT count(*) FROM signals WHERE order_id IS NOT NULL AND outcome IS NULL"
        ).fetchone()[0]
        assert open_now <= 1
    finally:
        rig.close()


def _loss(signal_id: str, symbol: str, pct: float, at: datetime) -> Outcome:
    return Outcome(signal_id, symbol, OutcomeKind.LOSS, 1.0, pct, at)


def test_daily_loss_halts_until_the_next_day(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="argo.execution.executor")
    rig = Rig(tmp_path, RiskLimits(10, 10, 1.0, 50.0, 10.0))
    signals = make_signals(6)
    try:
        with freeze_time("2026-11-22T15:00:00Z"):
            now = datetime.now(UTC)
            assert rig.executor.consider(signals[:1], now) == []
            rig.executor.closed([_loss(signals[0].signal_id, "AAPL", -12.0, now)], now)
            assert rig.metric("argo_execution_halted", limit="daily_loss") == 1
            skipped = rig.executor.consider(signals[1:3], now)
            assert {s.reason for s in skipped} == {SkipReason.HALTED_DAILY_LOSS}
            assert rig.executor.book.open_positions == 0
        assert "execution halted (halted_daily_loss)" in caplog.text
        with freeze_time("2026-11-23T00:00:01Z"):
            assert rig.executor.consider(signals[3:4], datetime.now(UTC)) == []
            assert rig.metric("argo_execution_halted", limit="daily_loss") == 0
        assert "execution resumed: the daily_loss limit no longer holds" in caplog.text
    finally:
        rig.close()


def test_drawdown_halts_and_survives_a_restart(tmp_path: Path) -> None:
    limits = RiskLimits(10, 10, 100.0, 4.0, 50.0)
    [first, second] = make_signals(2)
    store = open_signals(tmp_path / "signals.db")
    now = datetime.now(UTC)
    store.add_many([first, second], now)
    fill = Fill(first.signal_id, "paper-1", first.symbol, first.action, first.entry_price, now)
    store.record_executions([fill], now)
    store.record_outcomes([_loss(first.signal_id, first.symbol, -10.0, now)], now)
    store.close()
    restarted = Rig(tmp_path, limits)
    try:
        traded = restarted.store.trades()
        assert [t.signal_id for t in traded] == [first.signal_id] and not traded[0].open
        assert restarted.executor.book.drawdown_pct == pytest.approx(5.0)
        assert restarted.metric("argo_execution_halted", limit="max_drawdown") == 1
        [skip] = restarted.executor.consider([second], datetime.now(UTC) + timedelta(days=9))
        assert skip.reason is SkipReason.HALTED_DRAWDOWN
    finally:
        restarted.close()


def test_a_failed_fill_commit_is_kept_and_committed_next_cycle(rig: Rig) -> None:
    rig.store.connection.execute(
        "CREATE TRIGGER no_executions BEFORE INSERT ON sync_outbox"
        " WHEN NEW.event_type = 'signal.executed' BEGIN SELECT RAISE(ABORT, 'injected'); END"
    )
    for _ in range(60):  # until an order is placed: its fill comes with the next bar
        rig.generator.cycle(SYMBOLS)
        if rig.executor.book.open_positions:
            break
    count = "SELECT count(*) FROM sync_outbox"
    before = rig.store.connection.execute(count).fetchone()[0]
    stored, recorded, _ = rig.generator.cycle(SYMBOLS)  # the fill fails: nothing commits
    assert (stored, recorded, rig.store.trades()) == ([], [], [])
    assert rig.store.connection.execute(count).fetchone()[0] == before
    rig.store.connection.execute("DROP TRIGGER no_executions")
    rig.generator.cycle(SYMBOLS)
    assert rig.store.trades()
    assert rig.store.connection.execute(count).fetchone()[0] > before


def test_argo_run_executes_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "argo-alpine.toml"
    config.write_text(
        '[argo]\nauto_execute = true\nprop_firm = "strict"\nslippage_bps = 20\nthreshold = 0\n'
    )
    env = {"ARGO_DB": str(tmp_path / "signals.db"), "ARGO_AUDIT_LOG": str(tmp_path / "a.log")}
    args = ["--source", "csv:argo/samples/GOOG-2004-2006.csv", "--symbols", "GOOG"]
    result = cli(
        "argo",
        "--config",
        str(config),
        "run",
        *args,
        "--interval",
        "0.01",
        "--metrics-port",
        "0",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    shown = cli("argo", "--config", str(config), "config", "show", env=env).stdout
    assert "auto_execute" in shown and "prop_firm" in shown
    store = open_signals(tmp_path / "signals.db")
    try:
        trades = store.trades()
        assert trades, "no signal was executed"
        assert len([t for t in trades if t.open]) <= 1  # `strict`: 1 per symbol
        events = {r[0] for r in store.connection.execute("SELECT event_type FROM sync_outbox")}
        assert "signal.executed" in events
    finally:
        store.close()
    lines = [json.loads(x) for x in (tmp_path / "a.log").read_text().splitlines()]
    assert any(x["event"] == "signal.skipped" for x in lines)
    conn = sqlite3.connect(tmp_path / "signals.db")
    try:
        assert verify(tmp_path / "a.log", conn).ok
    finally:
        conn.close()
