"""`argo backtest`: how the engine's signals would have done on a price source."""

from __future__ import annotations

import json
import sys

import click

from argo.cli.options import parse_symbols, seed_option, threshold_option
from argo.engine.decide import HISTORY, EngineConfig
from argo.prices import open_source
from argo.prices.sources import DEFAULT_SYMBOLS, CsvPriceSource, PriceSource
from argo.reports.backtest import DEFAULT_HORIZON, replay
from argo.reports.reliability import Report, Tally, report

SYNTHETIC_BARS = 5000


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _pnl(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}%"


def _row(label: str, tally: Tally) -> str:
    return (
        f"{label:<12} {tally.signals:>7} {tally.wins:>5} {tally.losses:>6} {tally.expired:>7}"
        f" {tally.open:>5} {_percent(tally.win_rate):>9} {_pnl(tally.avg_profit_loss_pct):>9}"
    )


def _print(result: Report) -> None:
    overall = result.overall
    click.echo(
        f"signals {overall.signals}, win rate {_percent(overall.win_rate)},"
        f" average P&L {_pnl(overall.avg_profit_loss_pct)},"
        f" exactly 100: {result.exactly_100}"
    )
    click.echo(
        f"{'confidence':<12} {'signals':>7} {'wins':>5} {'losses':>6} {'expired':>7}"
        f" {'open':>5} {'win rate':>9} {'avg P&L':>9}"
    )
    for band in result.by_confidence:
        click.echo(_row(f"{band.low:g}-{band.high:g}", band.tally))
    click.echo(_row("all", overall))


def _symbols_for(spec: str, source: PriceSource, given: str | None) -> list[str]:
    if given is not None:
        return parse_symbols(given)
    if isinstance(source, CsvPriceSource):
        if not source.symbols:
            raise click.BadParameter(
                f"{spec} has no symbol column: name the symbol", param_hint="--symbols"
            )
        return list(source.symbols)
    return list(DEFAULT_SYMBOLS)


@click.command()
@click.option(
    "--source",
    default="synthetic",
    show_default=True,
    help="Price source to replay: synthetic, csv:PATH or http:... (as for argo run).",
)
@click.option(
    "--symbols",
    help="Comma-separated symbols [default: a CSV's own symbols; the six defaults otherwise].",
)
@threshold_option
@click.option(
    "--horizon",
    default=DEFAULT_HORIZON,
    show_default=True,
    type=click.IntRange(min=1),
    help="A signal still open this many bars after it expires at that bar's close.",
)
@click.option(
    "--bars",
    type=click.IntRange(min=1),
    help=f"Bars per symbol after the warm-up [default: all of a CSV; {SYNTHETIC_BARS} otherwise].",
)
@click.option(
    "--cooldown",
    default=EngineConfig().cooldown_bars,
    show_default=True,
    type=click.IntRange(min=0),
    help="Bars the same symbol and action wait after a signal (0: judge every bar).",
)
@seed_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of the table.")
def backtest(
    source: str,
    symbols: str | None,
    threshold: float,
    horizon: int,
    bars: int | None,
    cooldown: int,
    seed: int,
    as_json: bool,
) -> None:
    """Replay bars through the engine and the outcome tracker; report how signals did.

    In memory: no database, outbox or audit log is touched. Prints the number of
    signals, the win rate (wins over closed signals), the average P&L, and both by
    confidence band (a reliability table). With --threshold 0 --cooldown 0 every
    consensus is judged, not only those the generator would emit.
    """
    prices, symbol_list = _open(source, symbols, seed)
    if bars is None and not isinstance(prices, CsvPriceSource):
        bars = SYNTHETIC_BARS
    total = _length(prices, symbol_list, bars)
    config = EngineConfig(base_threshold=threshold, cooldown_bars=cooldown)
    with click.progressbar(length=total, label="replaying", file=sys.stderr) as progress:
        trades = replay(
            prices, symbol_list, config, horizon=horizon, bars=bars, progress=progress.update
        )
    result = report(trades)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _print(result)


def _length(prices: PriceSource, symbols: list[str], bars: int | None) -> int:
    """Bars the replay will observe (for the progress bar)."""
    if isinstance(prices, CsvPriceSource):
        per_symbol = [max(0, prices.bars_for(s) - HISTORY) for s in symbols]
        return sum(per_symbol if bars is None else (min(n, bars) for n in per_symbol))
    return (bars or 0) * len(symbols)


def _open(spec: str, symbols: str | None, seed: int) -> tuple[PriceSource, list[str]]:
    try:
        prices = open_source(
            spec, parse_symbols(symbols) if symbols else list(DEFAULT_SYMBOLS), seed
        )
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--source") from exc
    return prices, _symbols_for(spec, prices, symbols)
