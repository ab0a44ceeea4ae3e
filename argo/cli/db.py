"""`argo db upgrade`: create or migrate Argo's PostgreSQL schema (ARGO_DB as a URL)."""

from __future__ import annotations

from pathlib import Path

import click

from argo.cli.compose import upgrade_schema
from argo.cli.options import db_option


@click.group(name="db")
def db() -> None:
    """Argo's database schema."""


@db.command(name="upgrade")
@db_option
def db_upgrade(db_path: Path) -> None:
    """Apply the missing migrations of schema/argo-postgresql/ (safe to run again).

    With ARGO_DB a SQLite path, create or upgrade that file's schema instead (Argo and
    the relay also do that themselves on open).
    """
    click.echo(upgrade_schema(db_path))
