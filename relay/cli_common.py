"""What every `relay` command shares: the --db option and opening the outbox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from argo.outbox import OutboxStore
from argo.timeutil import parse_since, to_text
from relay.app import open_outbox
from relay.config import RelayConfig, describe
from relay.settings_load import Loaded, load

db_option = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help=describe("db_path")
)


def config_path() -> Path | None:
    """`relay --config PATH`, when given."""
    context = click.get_current_context(silent=True)
    path = context.find_root().params.get("config_path") if context else None
    return path if isinstance(path, Path) else None


def loaded_with(**flags: Any) -> Loaded:
    """The settings with their sources: flags over environment over file over defaults."""
    return load(flags, config_path=config_path())


def config_with(**flags: Any) -> RelayConfig:
    """The effective settings with the given flags applied."""
    return loaded_with(**flags).config


def open_existing(db_path: Path | None) -> OutboxStore:
    """Argo's outbox at --db or ARGO_DB (exit 2 when there is none)."""
    return open_outbox(config_with(db_path=db_path))


def window(since: str, until: str | None, now: datetime) -> tuple[datetime, datetime | None]:
    """`--since` and `--until` (2h, 7d or ISO-8601) as [start, end); a usage error (exit 2)
    when one is malformed or the end lies before the start (an empty answer would hide
    the mistake)."""
    try:
        start = parse_since(since, now)
        end = parse_since(until, now) if until else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    if end is not None and end < start:
        raise click.BadParameter(
            f"the window ends ({to_text(end)}) before it starts ({to_text(start)})",
            param_hint="--since/--until",
        )
    return start, end
