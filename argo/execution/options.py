"""The `argo run` options of the execution hook, and the executor they build.

Each option is also a key of the config file's `[argo]` section (argo.cli.config_file):
`auto_execute = true`, `slippage_bps`, `max_open_positions`, `max_position_per_symbol`,
`daily_loss_limit_pct`, `max_drawdown_pct`, `position_pct`, `prop_firm`. The defaults are
RiskLimits' own, defined once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from argo.audit import AuditLog
from argo.execution.executor import Executor
from argo.execution.held import HeldFills
from argo.execution.paper import PaperBroker
from argo.execution.risk import PRESETS, RiskBook, RiskLimits, effective_limits
from argo.metrics import GeneratorMetrics
from argo.signals.port import SignalStore

F = TypeVar("F", bound=Callable[..., Any])
_DEFAULTS = RiskLimits()
_PERCENT = click.FloatRange(0, 100, min_open=True)
DEFAULT_SLIPPAGE_BPS = 5.0

_OPTIONS = (
    click.option(
        "--auto-execute/--no-auto-execute",
        envvar="ARGO_AUTO_EXECUTE",
        default=False,
        show_default=True,
        help="Pass each stored signal that clears the risk checks to the paper broker"
        " [env ARGO_AUTO_EXECUTE].",
    ),
    click.option(
        "--slippage-bps",
        envvar="ARGO_SLIPPAGE_BPS",
        default=DEFAULT_SLIPPAGE_BPS,
        show_default=True,
        type=click.FloatRange(0, 1000),
        help="Paper fills: the next bar's open, this many basis points worse"
        " [env ARGO_SLIPPAGE_BPS].",
    ),
    click.option(
        "--max-open-positions",
        envvar="ARGO_MAX_OPEN_POSITIONS",
        default=_DEFAULTS.max_open_positions,
        show_default=True,
        type=click.IntRange(min=1),
        help="Positions ordered or open at once, all symbols [env ARGO_MAX_OPEN_POSITIONS].",
    ),
    click.option(
        "--max-position-per-symbol",
        envvar="ARGO_MAX_POSITION_PER_SYMBOL",
        default=_DEFAULTS.max_position_per_symbol,
        show_default=True,
        type=click.IntRange(min=1),
        help="Positions ordered or open at once in one symbol [env ARGO_MAX_POSITION_PER_SYMBOL].",
    ),
    click.option(
        "--daily-loss-limit-pct",
        envvar="ARGO_DAILY_LOSS_LIMIT_PCT",
        default=_DEFAULTS.daily_loss_limit_pct,
        show_default=True,
        type=_PERCENT,
        help="Realized loss today (UTC), in % of starting equity, that halts new executions"
        " until tomorrow [env ARGO_DAILY_LOSS_LIMIT_PCT].",
    ),
    click.option(
        "--max-drawdown-pct",
        envvar="ARGO_MAX_DRAWDOWN_PCT",
        default=_DEFAULTS.max_drawdown_pct,
        show_default=True,
        type=_PERCENT,
        help="Fall from the equity peak, in % of the peak, that halts new executions"
        " [env ARGO_MAX_DRAWDOWN_PCT].",
    ),
    click.option(
        "--position-pct",
        envvar="ARGO_POSITION_PCT",
        default=_DEFAULTS.position_pct,
        show_default=True,
        type=_PERCENT,
        help="Size of each position, in % of starting equity [env ARGO_POSITION_PCT].",
    ),
    click.option(
        "--prop-firm",
        envvar="ARGO_PROP_FIRM",
        type=click.Choice(sorted(PRESETS)),
        help="Prop-firm rules that tighten the limits above (docs/generator.md)"
        " [env ARGO_PROP_FIRM].",
    ),
)
NAMES = (
    "auto_execute",
    "slippage_bps",
    "max_open_positions",
    "max_position_per_symbol",
    "daily_loss_limit_pct",
    "max_drawdown_pct",
    "position_pct",
    "prop_firm",
)


def execution_options(command: F) -> F:
    """Decorate a command with every execution option (passed as keyword arguments)."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def limits_from(values: Mapping[str, Any]) -> RiskLimits:
    """The effective limits of the options' `values` (a preset tightens them)."""
    limits = RiskLimits(
        max_open_positions=values["max_open_positions"],
        max_position_per_symbol=values["max_position_per_symbol"],
        daily_loss_limit_pct=values["daily_loss_limit_pct"],
        max_drawdown_pct=values["max_drawdown_pct"],
        position_pct=values["position_pct"],
    )
    return effective_limits(limits, values["prop_firm"])


def build_executor(
    values: Mapping[str, Any],
    store: SignalStore,
    audit: AuditLog,
    metrics: GeneratorMetrics,
    held: HeldFills | None = None,
) -> Executor | None:
    """The executor the options ask for, or None without `--auto-execute`; `held`: where
    fills that cannot be committed at stop wait for the next start."""
    if not values["auto_execute"]:
        return None
    broker = PaperBroker(values["slippage_bps"])
    return Executor(store, audit, broker, RiskBook(limits_from(values)), metrics, held)
