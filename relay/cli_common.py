"""What every `relay` command shares: the --db option and opening the outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from argo.outbox import OutboxStore
from relay.app import open_outbox
from relay.config import RelayConfig, describe

db_option = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help=describe("db_path")
)


def config_with(**flags: Any) -> RelayConfig:
    """The environment's settings with the given flags applied."""
    return RelayConfig.from_env().with_overrides(**flags)


def open_existing(db_path: Path | None) -> OutboxStore:
    """Argo's outbox at --db or ARGO_DB (exit 2 when there is none)."""
    return open_outbox(config_with(db_path=db_path))
