"""`argo signals stats`: win rate and average P&L of the stored signals."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from argo.cli.compose import reader
from argo.cli.options import db_option, parse_since_option
from argo.reports.reliability import Tally
from argo.timeutil import to_text

_HEADER = (
    f"{'':<32} {'signals':>7} {'open':>5} {'wins':>5} {'losses':>6} {'expired':>7}"
    f" {'win rate':>9} {'avg P&L':>9}"
)


def _row(label: str, tally: Tally) -> str:
    rate = "-" if tally.win_rate is None else f"{tally.win_rate:.1%}"
    pnl = "-" if tally.avg_profit_loss_pct is None else f"{tally.avg_profit_loss_pct:+.2f}%"
    return (
        f"{label:<32} {tally.signals:>7} {tally.open:>5} {tally.wins:>5} {tally.losses:>6}"
        f" {tally.expired:>7} {rate:>9} {pnl:>9}"
    )


@click.command(name="stats")
@click.option("--since", help="Only signals at or after this time: 2h, 7d or ISO-8601.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@db_option
def stats(since: str | None, as_json: bool, db_path: Path) -> None:
    """Win rate (wins over closed signals) and average P&L of the stored signals,
    overall, by symbol and strategy, and by confidence band (SQLite or PostgreSQL)."""
    since_at = parse_since_option(since)
    with reader(db_path, read_only=True) as store:
        figures = store.outcome_stats(since_at)
    groups, bands = figures.groups, figures.bands
    overall = figures.overall.tally()
    if as_json:
        document: dict[str, Any] = {
            "since": to_text(since_at) if since_at else None,
            **asdict(overall),
            "by_symbol_strategy": [
                {"symbol": g.symbol, "strategy": g.strategy, **asdict(g.counts.tally())}
                for g in groups
            ],
            "by_confidence": [
                {"low": low, "high": high, **asdict(counts.tally())} for low, high, counts in bands
            ],
        }
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(_HEADER)
    for group in groups:
        click.echo(_row(f"{group.symbol} {group.strategy}", group.counts.tally()))
    click.echo(_row("all", overall))
    click.echo("")
    for low, high, counts in bands:
        click.echo(_row(f"confidence {low:g}-{high:g}", counts.tally()))
