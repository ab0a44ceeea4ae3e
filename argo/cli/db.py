"""`argo db upgrade`: create or migrate Argo's PostgreSQL schema (ARGO_DB as a URL)."""

from __future__ import annotations

from pathlib import Path

import click

from argo.cli.options import db_option
from argo.db.postgres import connect, database_url, upgrade
from argo.db.schema import ensure_schema
from argo.db.sqlite import connect as sqlite_connect
from argo.process.redact import redact_dsn


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
    url = database_url(db_path)
    if url is None:
        conn = sqlite_connect(db_path)
        try:
            version = ensure_schema(conn)
        finally:
            conn.close()
        click.echo(f"{db_path}: schema version {version}")
        return
    pg = connect(url)
    try:
        result = upgrade(pg)
    finally:
        pg.close()
    done = ", ".join(result.applied) if result.applied else "nothing to apply"
    click.echo(f"{redact_dsn(url)}: {done}; schema version {result.version}")
