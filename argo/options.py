"""Command-line options shared by `argo` and the relay (which works on Argo's database)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


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
