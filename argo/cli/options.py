"""Click options and parsers shared by the `argo` commands."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from argo.db.postgres import database_url, is_postgres
from argo.prices.sources import DEFAULT_SYMBOLS
from argo.process.cli import db_option as db_option_for
from argo.process.redact import redact_dsn
from argo.timeutil import parse_since, utc_now

db_option = db_option_for()
audit_option = click.option(
    "--audit-log",
    envvar="ARGO_AUDIT_LOG",
    default="logs/signals.log",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON-lines audit log [env ARGO_AUDIT_LOG].",
)
symbols_option = click.option(
    "--symbols",
    envvar="ARGO_SYMBOLS",
    default=",".join(DEFAULT_SYMBOLS),
    show_default=True,
    help="Comma-separated symbols [env ARGO_SYMBOLS].",
)
seed_option = click.option(
    "--seed", envvar="ARGO_SEED", default=7, show_default=True, help="Synthetic price seed."
)
sync_option = click.option(
    "--synchronous",
    envvar="ARGO_SQLITE_SYNCHRONOUS",
    type=click.Choice(["FULL", "NORMAL", "EXTRA"], case_sensitive=False),
    default="FULL",
    show_default=True,
    help="SQLite durability; FULL survives power loss [env ARGO_SQLITE_SYNCHRONOUS].",
)
source_option = click.option(
    "--source",
    envvar="ARGO_SOURCE",
    default="synthetic",
    show_default=True,
    help="Price source: synthetic, csv:PATH to replay OHLCV bars, or Alpha Vantage's"
    " http:daily or http:intraday:5min (key: ALPHA_VANTAGE_API_KEY[_FILE]) [env ARGO_SOURCE].",
)
threshold_option = click.option(
    "--threshold",
    envvar="ARGO_CONFIDENCE_THRESHOLD",
    default=88.0,
    show_default=True,
    type=click.FloatRange(0, 100),
    help="Base confidence a signal needs; the regime raises it [env ARGO_CONFIDENCE_THRESHOLD].",
)


def parse_symbols(text: str) -> list[str]:
    """`AAPL, nvda` → ["AAPL", "NVDA"]; a usage error when empty."""
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise click.BadParameter("give at least one symbol", param_hint="--symbols")
    return symbols


def parse_since_option(text: str | None) -> datetime | None:
    """`--since` (2h, 7d or ISO-8601) as a time; a usage error when malformed."""
    try:
        return parse_since(text, utc_now()) if text else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc


def sqlite_only(db_path: Path) -> Path:
    """`db_path`, or a usage error naming ARGO_DB when it is a PostgreSQL URL (for the
    commands that work on Argo's SQLite file only)."""
    if is_postgres(db_path):
        command = click.get_current_context(silent=True)
        name = command.command_path if command else "this command"
        raise click.UsageError(
            f"`{name}` works on Argo's SQLite database only; ARGO_DB (--db) is a PostgreSQL URL"
        )
    return db_path


def existing_db(db_path: Path) -> Path:
    """`db_path`, or a usage error naming the setting when there is no such file."""
    if not sqlite_only(db_path).exists():
        raise click.UsageError(f"no database at {db_path} (set --db or ARGO_DB)")
    return db_path


def existing_store(db_path: Path) -> Path:
    """`db_path` when it is a PostgreSQL URL (opening checks its schema) or an existing
    SQLite file; otherwise a usage error naming the setting."""
    return db_path if is_postgres(db_path) else existing_db(db_path)


def db_label(db_path: Path) -> str:
    """`db_path` for a message: a PostgreSQL URL restored and without its password."""
    url = database_url(db_path)
    return redact_dsn(url) if url else str(db_path)
