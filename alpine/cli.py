"""`alpine`: run the receiving service and manage its database."""

from __future__ import annotations

import logging
import sys

import click
import uvicorn
from sqlalchemy.exc import DBAPIError

from alpine import __version__
from alpine.app import create_app
from alpine.errors import ConfigError
from alpine.migrations import pending, upgrade
from alpine.settings import AlpineSettings
from alpine.store import SignalStore, make_engine


def _settings() -> AlpineSettings:
    try:
        return AlpineSettings.from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


@click.group()
@click.version_option(__version__, prog_name="alpine")
@click.option("-v", "--verbose", count=True, help="More log output.")
def main(verbose: int) -> None:
    """Alpine Analytics: receive Argo's signals and serve them."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


@main.command()
@click.option(
    "--host",
    envvar="ALPINE_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind [env ALPINE_HOST].",
)
@click.option(
    "--port",
    envvar="ALPINE_PORT",
    default=9001,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to bind [env ALPINE_PORT].",
)
def serve(host: str, port: int) -> None:
    """Serve the HTTP API (ingest, health, metrics)."""
    settings = _settings()
    if not settings.api_keys:
        raise click.UsageError("ALPINE_API_KEYS is not set: give at least one key (16+ chars)")
    engine = make_engine(settings.database_url)
    try:
        missing = pending(engine)
    except DBAPIError as exc:
        click.echo(f"alpine: cannot reach the database: {exc.orig}", err=True)
        sys.exit(1)
    if missing:
        click.echo(
            f"alpine: database schema is behind ({', '.join(missing)} not applied):"
            " run `alpine db upgrade`",
            err=True,
        )
        sys.exit(1)
    app = create_app(settings, SignalStore(engine))
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


@main.group()
def db() -> None:
    """Manage Alpine's database schema."""


@db.command(name="upgrade")
def db_upgrade() -> None:
    """Apply the missing migrations (safe to run again)."""
    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        applied = upgrade(engine)
    except DBAPIError as exc:
        click.echo(f"alpine: cannot upgrade the database: {exc.orig}", err=True)
        sys.exit(1)
    finally:
        engine.dispose()
    if applied:
        click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        click.echo("database schema is up to date")
