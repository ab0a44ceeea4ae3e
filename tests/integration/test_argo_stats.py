"""Outcome statistics from a real SQLite file and a real PostgreSQL database: the queries,
the metrics, the command, and the same figures on both."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from argo.audit import AuditLog
from argo.cli.main import main
from argo.engine.decide import EngineConfig
from argo.generator import Generator, SignalFactory
from argo.metrics import Cached, GeneratorMetrics
from argo.prices.sources import SyntheticPriceSource
from argo.signal import Action, AssetType, Outcome, OutcomeKind, Regime, Signal
from argo.signals import open_signals
from argo.signals.port import SignalStore
from tests.kit.factories import make_signals
from tests.kit.relay import STORES, outbox_location

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture(params=STORES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """ARGO_DB: a fresh SQLite file, or a fresh PostgreSQL database with Argo's schema."""
    with outbox_location(request.param, tmp_path) as location:
        yield location


def judged(path: Path) -> tuple[SignalStore, list[Signal]]:
    """Eight signals: AAPL (4: win +3, loss -1.5, expired +0.5, open) and BTC-USD
    (4: win +6 at confidence 100, three open), their confidences set for the bands."""
    signals = [s for s in make_signals(40) if s.symbol == "AAPL"][:4]
    signals += [s for s in make_signals(40) if s.symbol == "BTC-USD"][:4]
    confidences = [40.0, 89.0, 92.0, 96.0, 100.0, 60.0, 75.0, 85.0]
    signals = [replace(s, confidence=c) for s, c in zip(signals, confidences, strict=True)]
    store = open_signals(path)
    store.add_many(signals, NOW)
    results = [
        (signals[0], OutcomeKind.WIN, 3.0),
        (signals[1], OutcomeKind.LOSS, -1.5),
        (signals[2], OutcomeKind.EXPIRED, 0.5),
        (signals[4], OutcomeKind.WIN, 6.0),
    ]
    store.record_outcomes(
        [Outcome(s.signal_id, s.symbol, kind, 1.0, pnl, NOW) for s, kind, pnl in results], NOW
    )
    return store, signals


def test_counts_by_symbol_and_strategy(db: Path) -> None:
    store, _ = judged(db)
    [aapl, btc] = store.outcome_stats().groups
    store.close()
    assert (aapl.symbol, btc.symbol) == ("AAPL", "BTC-USD")
    tally = aapl.counts.tally()
    assert (tally.signals, tally.open, tally.wins, tally.losses, tally.expired) == (4, 1, 1, 1, 1)
    assert tally.win_rate == pytest.approx(1 / 3, abs=1e-4)
    assert tally.avg_profit_loss_pct == pytest.approx(2 / 3, abs=1e-4)
    assert btc.counts.tally().win_rate == 1.0


def test_counts_by_confidence_band_list_every_band(db: Path) -> None:
    store, _ = judged(db)
    bands = {(low, high): counts for low, high, counts in store.outcome_stats().bands}
    store.close()
    assert len(bands) == 7
    assert bands[(0.0, 50.0)].wins == 1 and bands[(88.0, 90.0)].losses == 1
    assert bands[(95.0, 100.0)].signals == 2 and bands[(95.0, 100.0)].wins == 1  # 96 and 100
    assert bands[(50.0, 70.0)].closed == 0


def test_a_window_counts_only_signals_since(db: Path) -> None:
    store, signals = judged(db)
    latest = max(s.timestamp for s in signals)
    since = datetime.fromisoformat(latest.replace("Z", "+00:00"))
    figures = store.outcome_stats(since)
    store.close()
    assert sum(g.counts.signals for g in figures.groups) == 1
    assert figures.overall.signals == sum(c.signals for _, _, c in figures.bands) == 1


def _samples(metrics: GeneratorMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_metrics_read_the_table_and_survive_a_restart(db: Path) -> None:
    judged(db)[0].close()
    reopened = open_signals(db)
    metrics = GeneratorMetrics()
    metrics.watch_outcomes(lambda: reopened.outcome_stats().groups, max_age=0)
    samples = _samples(metrics)
    reopened.close()
    aapl = (("strategy", "weighted-consensus-v1"), ("symbol", "AAPL"))
    assert samples[("argo_signals_stored", aapl)] == 4
    assert samples[("argo_signals_closed", (("outcome", "loss"), *aapl))] == 1
    assert samples[("argo_signals_win_rate", aapl)] == pytest.approx(0.3333)
    assert samples[("argo_signals_profit_loss_pct_sum", aapl)] == pytest.approx(2.0)
    assert samples[("argo_signals_avg_profit_loss_pct", aapl)] == pytest.approx(0.6667)


def test_a_cached_read_is_reused_until_it_is_old() -> None:
    calls: list[int] = []
    now = [100.0]
    cached = Cached(lambda: calls.append(1) or len(calls), 60.0, clock=lambda: now[0])
    assert (cached(), cached()) == (1, 1)
    now[0] += 59.9
    assert cached() == 1
    now[0] += 0.1
    assert cached() == 2


def test_every_stored_signal_has_its_latency_observed(tmp_path: Path) -> None:
    store = open_signals(tmp_path / "signals.db")
    audit = AuditLog(tmp_path / "audit.log")
    metrics = GeneratorMetrics()
    factory = SignalFactory(
        SyntheticPriceSource(["AAPL"], 3), EngineConfig(base_threshold=0, cooldown_bars=0)
    )
    try:
        result = Generator(store, audit, factory, metrics).generate(12, ["AAPL"], batch_size=5)
    finally:
        audit.close()
        store.close()
    samples = _samples(metrics)
    assert samples[("argo_signal_latency_seconds_count", ())] == result.stored == 12
    assert ("argo_signal_latency_seconds_bucket", (("le", "0.5"),)) in samples
    assert samples[("argo_signal_store_seconds_count", ())] == 3  # one per transaction


def test_the_command_prints_and_writes_json(db: Path) -> None:
    judged(db)[0].close()
    runner = CliRunner()
    text = runner.invoke(main, ["signals", "stats", "--db", str(db)])
    assert text.exit_code == 0, text.output
    assert "AAPL weighted-consensus-v1" in text.stdout and "confidence 95-100" in text.stdout
    result = runner.invoke(main, ["signals", "stats", "--db", str(db), "--json"])
    document = json.loads(result.stdout)
    assert (document["signals"], document["wins"], document["open"]) == (8, 2, 4)
    assert document["win_rate"] == 0.5 and document["avg_profit_loss_pct"] == 2.0
    assert [g["symbol"] for g in document["by_symbol_strategy"]] == ["AAPL", "BTC-USD"]
    assert len(document["by_confidence"]) == 7


def _stats_json(db: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["signals", "stats", "--db", str(db), "--json", *extra])
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _signal(symbol: str, minute: int) -> Signal:
    return Signal.create(
        symbol=symbol,
        action=Action.BUY,
        entry_price=100.0,
        target_price=110.0,
        stop_price=95.0,
        confidence=60.0 + 7 * minute,
        strategy="other",
        asset_type=AssetType.STOCK,
        data_source="test",
        timestamp=f"2026-11-22T10:0{minute}:00.000000Z",
        reasoning="",
        regime=Regime.BULL,
    )


def test_postgresql_gives_the_same_figures_as_sqlite(tmp_path: Path) -> None:
    """The same signals and outcomes in both stores (symbols whose byte order differs from
    a natural-language collation included): every figure, every order, the same."""
    signals = [_signal(name, minute) for minute, name in enumerate(["b-x", "B_Y", "a"] * 2)]
    with outbox_location("postgresql", tmp_path) as pg:
        for location in (tmp_path / "signals.db", pg):
            judged(location)[0].close()
            store = open_signals(location)
            store.add_many(signals, NOW)
            kinds = [OutcomeKind.WIN, OutcomeKind.LOSS, OutcomeKind.EXPIRED]
            store.record_outcomes(
                [
                    Outcome(s.signal_id, s.symbol, k, 2.0, p, NOW)
                    for s, k, p in zip(signals, kinds, (1.25, -0.5, 0.1), strict=False)
                ],
                NOW,
            )
            store.close()
        for extra in ((), ("--since", "2000-01-01T00:00:00Z")):
            sqlite_figures = _stats_json(tmp_path / "signals.db", *extra)
            assert _stats_json(pg, *extra) == sqlite_figures
        assert [g["symbol"] for g in sqlite_figures["by_symbol_strategy"]] == [
            "AAPL",
            "BTC-USD",
            "B_Y",
            "a",
            "b-x",
        ]


def test_the_command_needs_a_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["signals", "stats", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "ARGO_DB" in result.output
