"""`alpine`: run the receiving service and manage its database."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import uvicorn
from sqlalchemy.exc import DBAPIError

from alpine import __version__
from alpine.app import LOG_FORMAT, create_app, freeze_startup
from alpine.cli_config import config, config_option, use_config
from alpine.cli_feed import feed, follow, verify_record
from alpine.cli_keys import keys
from alpine.cli_record import record
from alpine.errors import AlpineError, ConfigError
from alpine.metrics import MULTIPROCESS_ENV
from alpine.migrations import pending, upgrade
from alpine.settings import AlpineSettings
from alpine.settings_load import settings_from_env
from alpine.store import SignalStore, make_engine
from alpine.subscriber_store import SubscriberError, SubscriberStore
from alpine.tiers import TIER_NAMES, load_tiers

# On SIGTERM, requests in flight get this long; open streams are then closed (their
# subscribers resume with Last-Event-ID), well inside systemd's TimeoutStopSec.
GRACE_SECONDS = 5


def _settings() -> AlpineSettings:
    try:
        return settings_from_env()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


class _HelpFirstGroup(click.Group):
    """Notes, before the group's callback reads the configuration, whether a subcommand's
    `--help` is on the command line: help then works whatever the file holds."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        ctx.meta["alpine.help_requested"] = any(arg in ctx.help_option_names for arg in args)
        return super().resolve_command(ctx, args)


@click.group(cls=_HelpFirstGroup)
@click.version_option(__version__, prog_name="alpine")
@click.option("-v", "--verbose", count=True, help="More log output.")
@config_option
@click.pass_context
def main(context: click.Context, verbose: int, config_path: Path | None) -> None:
    """Alpine Analytics: receive Argo's signals and serve them."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format=LOG_FORMAT,
    )
    try:
        use_config(context, config_path)
    except ConfigError:
        if not context.meta.get("alpine.help_requested"):
            raise


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
@click.option(
    "--workers",
    envvar="ALPINE_WORKERS",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes sharing the port (PostgreSQL only above 1) [env ALPINE_WORKERS].",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (ingest, subscribers, metrics)."""
    settings = _settings()
    if not settings.api_keys:
        raise click.UsageError("ALPINE_API_KEYS is not set: give at least one key (16+ chars)")
    if workers > 1 and not settings.database_url.startswith("postgresql"):
        raise click.UsageError("ALPINE_WORKERS above 1 needs a postgresql ALPINE_DATABASE_URL")
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
    if workers > 1:
        engine.dispose()
        try:
            load_tiers(settings.tiers_file)  # each worker reads it again; fail here, once
        except ConfigError as exc:
            raise click.UsageError(str(exc)) from exc
        _serve_workers(host, port, workers)
        return
    try:
        app = freeze_startup(create_app(settings, SignalStore(engine, settings.late_after_seconds)))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=GRACE_SECONDS,
    )


def _serve_workers(host: str, port: int, workers: int) -> None:
    """uvicorn's supervisor spawns `workers` fresh interpreters on one socket; each
    builds its app from the environment, with metrics in a shared, emptied folder."""
    chosen = os.environ.get("ALPINE_METRICS_DIR", "").strip()
    folder = Path(chosen) if chosen else Path(tempfile.mkdtemp(prefix="alpine-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):  # the folder must start empty on every start
        stale.unlink()
    os.environ[MULTIPROCESS_ENV] = str(folder)  # inherited by the spawned workers
    try:
        uvicorn.run(
            "alpine.app:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
    finally:
        if not chosen:
            shutil.rmtree(folder, ignore_errors=True)


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


@contextmanager
def _subscriber_store() -> Iterator[SubscriberStore]:
    """The subscriber store on the configured database; its engine disposed after."""
    engine = make_engine(_settings().database_url)
    try:
        yield SubscriberStore(engine)
    finally:
        engine.dispose()


@subscribers.command(name="add")
@click.argument("name")
@click.option(
    "--tier", required=True, type=click.Choice(list(TIER_NAMES)), help="What the subscriber sees."
)
def subscribers_add(name: str, tier: str) -> None:
    """Create subscriber NAME; the bearer token is printed once, on the last line."""
    try:
        with _subscriber_store() as store:
            token = store.add(name, tier)
    except SubscriberError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"added {name} ({tier}); keep this token, it is not shown again:")
    click.echo(token)


@subscribers.command(name="list")
def subscribers_list() -> None:
    """List subscribers, their tier and whether they are revoked."""
    with _subscriber_store() as store:
        found = store.list()
    for sub in found:
        state = f"revoked {sub.revoked_at:%Y-%m-%d %H:%M}" if sub.revoked_at else "active"
        click.echo(f"{sub.name:<32} {sub.tier:<8} {state}")


@subscribers.command(name="revoke")
@click.argument("name")
def subscribers_revoke(name: str) -> None:
    """Revoke NAME's token (effective immediately)."""
    try:
        with _subscriber_store() as store:
            store.revoke(name)
    except SubscriberError as exc:
        click.echo(f"alpine: {exc}", err=True)
        sys.exit(1)
    click.echo(f"revoked {name}")


main.add_command(config)
main.add_command(follow)
main.add_command(verify_record)
main.add_command(feed)
main.add_command(keys)
main.add_command(record)


def entry_point() -> None:
    """Console entry point: the click group, plus a one-line message and exit 1 for
    runtime failures (a locked or unreadable database, a full disk, ...)."""
    try:
        main()
    except ConfigError as exc:
        click.echo(f"alpine: {exc}", err=True)
        sys.exit(2)
    except (AlpineError, DBAPIError, OSError) as exc:
        click.echo(f"alpine: {exc}", err=True)
        sys.exit(1)
