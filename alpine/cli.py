"""`alpine`: run the receiving service and manage its database."""

from __future__ import annotations

import logging
import sys

import click
import uvicorn
from sqlalchemy.exc import DBAPIError

from alpine import __version__
from alpine.app import create_app
from alpine.errors import AlpineError, ConfigError
from alpine.migrations import pending, upgrade
from alpine.settings import AlpineSettings
from alpine.store import SignalStore, make_engine
from alpine.subscriber_store import SubscriberError, SubscriberStore
from alpine.tiers import TIER_NAMES


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
    try:
        app = create_app(settings, SignalStore(engine))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
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


@main.group()
def subscribers() -> None:
    """Manage subscribers and their bearer tokens."""


def _subscriber_store() -> SubscriberStore:
    return SubscriberStore(make_engine(_settings().database_url))


@subscribers.command(name="add")
@click.argument("name")
@click.option(
    "--tier", required=True, type=click.Choice(list(TIER_NAMES)), help="What the subscriber sees."
)
def subscribers_add(name: str, tier: str) -> None:
    """Create subscriber NAME; the bearer token is printed once, on the last line."""
    try:
        token = _subscriber_store().add(name, tier)
    except SubscriberError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"added {name} ({tier}); keep this token, it is not shown again:")
    click.echo(token)


@subscribers.command(name="list")
def subscribers_list() -> None:
    """List subscribers, their tier and whether they are revoked."""
    for sub in _subscriber_store().list():
        state = f"revoked {sub.revoked_at:%Y-%m-%d %H:%M}" if sub.revoked_at else "active"
        click.echo(f"{sub.name:<32} {sub.tier:<8} {state}")


@subscribers.command(name="revoke")
@click.argument("name")
def subscribers_revoke(name: str) -> None:
    """Revoke NAME's token (effective immediately)."""
    try:
        _subscriber_store().revoke(name)
    except SubscriberError as exc:
        click.echo(f"alpine: {exc}", err=True)
        sys.exit(1)
    click.echo(f"revoked {name}")


def entry_point() -> None:
    """Console entry point: the click group, plus a one-line message and exit 1 for
    runtime failures (a locked or unreadable database, a full disk, ...)."""
    try:
        main()
    except (AlpineError, DBAPIError, OSError) as exc:
        click.echo(f"alpine: {exc}", err=True)
        sys.exit(1)
