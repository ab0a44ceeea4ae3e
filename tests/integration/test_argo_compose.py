"""`argo`'s composition root on a real SQLite file: what it builds it releases on exit (the
executor lock included), and a command's reader refuses a database that is not there."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import pytest

from argo.cli.compose import RunSettings, Storage, burst, long_run, reader, upgrade_schema
from argo.engine.decide import EngineConfig
from argo.errors import ExecutionLockedError
from argo.execution.lock import execution_lock
from argo.generator import SignalFactory
from argo.prices.sources import SyntheticPriceSource

EXECUTION = {
    "auto_execute": True,
    "slippage_bps": 5.0,
    "max_open_positions": 5,
    "max_position_per_symbol": 1,
    "daily_loss_limit_pct": 3.0,
    "max_drawdown_pct": 10.0,
    "position_pct": 10.0,
    "prop_firm": None,
}


def _factory() -> SignalFactory:
    return SignalFactory(
        SyntheticPriceSource(["AAPL"], 3), EngineConfig(base_threshold=0.0, cooldown_bars=0)
    )


def test_long_run_holds_the_executor_lock_and_releases_everything(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "signals.db", tmp_path / "signals.log")
    settings = RunSettings(timedelta(hours=24), 0, EXECUTION)
    with long_run(storage, _factory(), settings) as generator:
        stored, _, _ = generator.cycle(["AAPL"])
        with pytest.raises(ExecutionLockedError), execution_lock(storage.db_path):
            pass
    with execution_lock(storage.db_path):  # released on exit
        pass
    with burst(storage, _factory()) as generator:
        assert generator.generate(3, ["AAPL"]).stored == 3
    with reader(storage.db_path, read_only=True) as store:
        assert len(store.signal_ids()) == 3 + len(stored)


def test_reader_refuses_a_missing_database_and_upgrade_reports(tmp_path: Path) -> None:
    with pytest.raises(click.UsageError), reader(tmp_path / "none.db"):
        pass
    assert upgrade_schema(tmp_path / "new.db").startswith(f"{tmp_path / 'new.db'}: schema version")
