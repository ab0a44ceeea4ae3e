"""`argo`: generate trading signals into the SQLite store and its outbox."""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from argo import __version__
from argo.audit_verify import verify_store
from argo.cli.backtest import backtest
from argo.cli.backup import backup
from argo.cli.compose import RunSettings, Storage, burst, long_run, reader, stop_on_signals
from argo.cli.config import apply_config, config, config_option
from argo.cli.db import db
from argo.cli.options import (
    audit_option,
    db_label,
    db_option,
    parse_since_option,
    parse_symbols,
    seed_option,
    source_option,
    symbols_option,
    sync_option,
    threshold_option,
)
from argo.cli.stats import stats
from argo.engine.decide import EngineConfig
from argo.errors import ArgoError, ConfigError, OutboxMissingError
from argo.execution.options import execution_options
from argo.generator import SignalFactory
from argo.prices import open_source
from argo.prices.sources import CsvError
from argo.process.cli import HelpFirstGroup, help_requested, run_group
from argo.process.logsetup import setup_logging
from argo.process.sdnotify import SystemdNotifier
from argo.signal import Signal
from argo.timeutil import parse_since, utc_now


def _print_signal(signal: Signal) -> None:
    click.echo(
        f"{signal.timestamp} {signal.symbol:<8} {signal.action.value:<4} "
        f"entry={signal.entry_price:.4f} target={signal.target_price:.4f} "
        f"stop={signal.stop_price:.4f} conf={signal.confidence:.1f} id={signal.signal_id}"
    )


@click.group(cls=HelpFirstGroup)
@click.version_option(__version__, prog_name="argo")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@config_option
@click.pass_context
def main(context: click.Context, verbose: int, config_path: Path | None) -> None:
    """Argo: generate trading signals; each commits with its outbox event."""
    setup_logging(verbose)
    try:
        apply_config(context, config_path)
    except ConfigError:
        if not help_requested(context):  # --help works whatever the file holds
            raise


def _factory(
    source: str, symbols: list[str], seed: int, threshold: float, live: bool = False
) -> SignalFactory:
    try:
        prices = open_source(source, symbols, seed, live=live)
    except CsvError as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    return SignalFactory(prices, EngineConfig(base_threshold=threshold))


@main.command()
@click.option("--count", "-n", required=True, type=click.IntRange(min=1), help="Signals to make.")
@click.option(
    "--batch-size",
    default=50,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Signals per transaction (each still commits with its own outbox row).",
)
@db_option
@audit_option
@symbols_option
@seed_option
@sync_option
@source_option
@threshold_option
def generate(
    count: int,
    batch_size: int,
    db_path: Path,
    audit_log: Path,
    symbols: str,
    seed: int,
    synchronous: str,
    source: str,
    threshold: float,
) -> None:
    """Make COUNT signals now (a burst for demos, backfills and benchmarks).

    Each signal commits with its outbox row; --batch-size of them share a transaction.
    """
    symbol_list = parse_symbols(symbols)
    factory = _factory(source, symbol_list, seed, threshold)
    with (
        burst(Storage(db_path, audit_log, synchronous), factory) as generator,
        click.progressbar(length=count, label="generating", file=sys.stderr) as bar,
    ):
        result = generator.generate(count, symbol_list, batch_size, progress=bar.update)
    if result.exhausted:
        click.echo(f"the price source ran out of bars after {result.stored} signals", err=True)
    rate = result.stored / result.seconds if result.seconds > 0 else float("inf")
    click.echo(
        f"stored {result.stored} signals in {result.seconds:.2f} s ({rate:.0f}/s)"
        f" into {db_label(db_path)}"
    )


@main.command()
@click.option(
    "--interval",
    envvar="ARGO_INTERVAL",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.01),
    help="Seconds between cycles [env ARGO_INTERVAL].",
)
@source_option
@threshold_option
@click.option(
    "--expire-after",
    envvar="ARGO_EXPIRE_AFTER",
    default="24h",
    show_default=True,
    help="An open signal expires this long after its timestamp: 30m, 24h, 7d"
    " [env ARGO_EXPIRE_AFTER].",
)
@click.option(
    "--metrics-port",
    envvar="ARGO_METRICS_PORT",
    default=9101,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Prometheus endpoint on 127.0.0.1; 0 turns it off [env ARGO_METRICS_PORT].",
)
@db_option
@audit_option
@symbols_option
@seed_option
@sync_option
@execution_options
def run(
    interval: float,
    source: str,
    threshold: float,
    expire_after: str,
    metrics_port: int,
    db_path: Path,
    audit_log: Path,
    symbols: str,
    seed: int,
    synchronous: str,
    **execution: Any,
) -> None:
    """Generate signals every --interval seconds until SIGTERM or Ctrl-C; track outcomes.

    With --auto-execute, each stored signal that clears the risk checks goes to the paper
    broker (docs/generator.md, "Execution").
    """
    symbol_list = parse_symbols(symbols)
    factory = _factory(source, symbol_list, seed, threshold, live=True)
    now = utc_now()
    try:
        expiry = now - parse_since(expire_after, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expire-after") from exc
    storage = Storage(db_path, audit_log, synchronous)
    settings = RunSettings(expiry, metrics_port, execution)
    with long_run(storage, factory, settings) as generator:
        stop = stop_on_signals()
        click.echo(f"argo: generating for {','.join(symbol_list)} every {interval}s", err=True)
        total = generator.run(
            symbol_list, interval, stop, on_signal=_print_signal, notifier=SystemdNotifier()
        )
    click.echo(f"argo: stopped after storing {total} signals", err=True)


@main.group(name="signals")
def signals_group() -> None:
    """Inspect stored signals."""


@signals_group.command(name="list")
@click.option("--since", help="Only signals at or after this time: 2h, 7d or ISO-8601.")
@click.option("--symbol", help="Only this symbol.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@db_option
def list_signals(
    since: str | None, symbol: str | None, limit: int | None, as_json: bool, db_path: Path
) -> None:
    """List stored signals, oldest first."""
    since_at = parse_since_option(since)
    with reader(db_path) as store:
        rows = store.signals(since=since_at, symbol=symbol.upper() if symbol else None, limit=limit)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row.signal.to_payload(), separators=(",", ":")))
        else:
            _print_signal(row.signal)


@main.group()
def audit() -> None:
    """Check the audit log."""


@audit.command(name="verify")
@audit_option
@db_option
@click.option("--no-db", is_flag=True, help="Check the hash chain only, not the database.")
def audit_verify(audit_log: Path, db_path: Path, no_db: bool) -> None:
    """Verify the audit log's hash chain and cross-check it with the database.

    Exit 0 when intact; 1 naming the first broken line.
    """
    with ExitStack() as stack:
        store = None if no_db else stack.enter_context(reader(db_path, read_only=True))
        report = verify_store(audit_log, store)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not report.ok:
        click.echo(f"BROKEN at {report.first_problem}")
        sys.exit(1)
    checked = "chain and database" if store is not None else "chain"
    click.echo(
        f"OK: {report.lines} lines ({report.signals} signals, {report.outcomes} outcomes,"
        f" {report.executions} executions)"
        f" in {', '.join(report.files)}; {checked} verified"
    )


main.add_command(backtest)
main.add_command(backup)
main.add_command(db)
main.add_command(config)
signals_group.add_command(stats)


def entry_point() -> None:
    """Console entry point (see argo.process.cli.run_group)."""
    run_group(
        main,
        "argo",
        (ArgoError, sqlite3.Error, OSError),
        usage_failures=(ConfigError, OutboxMissingError),
    )
