"""Command-line options shared by `argo` and the relay (which works on Argo's database)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from argo.process.redact import redact_dsn


def db_option(what: str = "Argo's SQLite database") -> Callable[[Any], Any]:
    """`--db PATH` from ARGO_DB, default data/signals.db."""
    return click.option(
        "--db",
        "db_path",
        envvar="ARGO_DB",
        default="data/signals.db",
        show_default=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help=f"{what} [env ARGO_DB].",
    )


class HelpFirstGroup(click.Group):
    """A command group that notes, before its own callback runs, whether the command line
    asks for a subcommand's `--help`: a group callback that reads the configuration can
    then let help through whatever the file holds (`help_requested`)."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        ctx.meta[_HELP] = any(arg in ctx.help_option_names for arg in args)
        return super().resolve_command(ctx, args)


_HELP = "argo.process.cli.help_requested"


def help_requested(ctx: click.Context) -> bool:
    """Whether a subcommand's `--help` is on the command line (see `HelpFirstGroup`)."""
    return bool(ctx.meta.get(_HELP))


def run_group(
    group: click.Group,
    prog: str,
    failures: tuple[type[BaseException], ...],
    usage_failures: tuple[type[BaseException], ...] = (),
) -> None:
    """Run a click group as a console script. `usage_failures` (a setting is wrong) end
    in one line and exit 2, `failures` (a locked or unreadable database, a full disk, ...)
    in one line and exit 1, instead of a traceback; a database password in the line is
    redacted."""
    try:
        group()
    except usage_failures as exc:
        click.echo(redact_dsn(f"{prog}: {exc}"), err=True)
        sys.exit(2)
    except failures as exc:
        click.echo(redact_dsn(f"{prog}: {exc}"), err=True)
        sys.exit(1)
