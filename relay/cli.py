"""`relay`: deliver Argo's outbox to Alpine, and inspect it."""

from __future__ import annotations

import json
import logging
import signal as signals_module
import sqlite3
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType

import click
import httpx
from prometheus_client import start_http_server

from argo.errors import ArgoError
from argo.logsetup import setup_logging
from argo.options import db_option as db_option_for
from argo.options import run_group
from argo.sdnotify import SystemdNotifier
from argo.store import SignalStore
from argo.timeutil import parse_since, to_text, utc_now
from relay import __version__
from relay.deliver import Deliverer, default_timeout
from relay.errors import ConfigError, RelayError
from relay.loop import Halt, Relay, RelaySettings
from relay.metrics import RelayMetrics
from relay.replay import ReplayWindow, enqueue, matching
from relay.retry import RetryPolicy
from relay.settings import new_worker_id, signing_secrets, sync_enabled
from relay.store import OutboxStatus, OutboxStore
from relay.store_admin import Worker, WorkerState

log = logging.getLogger("relay")

db_option = db_option_for("Argo's SQLite database holding the outbox")


@click.group()
@click.version_option(__version__, prog_name="relay")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """Relay: deliver Argo's outbox to Alpine, at least once, in order."""
    setup_logging(verbose)


@main.command()
@click.option("--once", is_flag=True, help="Deliver everything due, then exit.")
@click.option(
    "--batch-size",
    envvar="RELAY_BATCH_SIZE",
    default=200,
    show_default=True,
    type=click.IntRange(1, 500),
    help="Rows claimed, and POSTed together, per batch [env RELAY_BATCH_SIZE].",
)
@click.option(
    "--lease-seconds",
    envvar="RELAY_LEASE_SECONDS",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1.0),
    help="How long a claim lasts; a dead relay's rows are taken over after it"
    " [env RELAY_LEASE_SECONDS].",
)
@click.option(
    "--posts-in-flight",
    envvar="RELAY_POSTS_IN_FLIGHT",
    default=8,
    show_default=True,
    type=click.IntRange(1, 32),
    help="Single POSTs sent at once when rows go one by one [env RELAY_POSTS_IN_FLIGHT].",
)
@click.option(
    "--outage-cap-seconds",
    envvar="RELAY_OUTAGE_CAP_SECONDS",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Longest whole-relay wait between probes while Alpine is down"
    " [env RELAY_OUTAGE_CAP_SECONDS].",
)
@click.option(
    "--metrics-port",
    envvar="RELAY_METRICS_PORT",
    default=9102,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Prometheus endpoint on 127.0.0.1; 0 turns it off [env RELAY_METRICS_PORT].",
)
@click.option(
    "--alpine-url",
    envvar="ALPINE_API_URL",
    default="http://127.0.0.1:9001",
    show_default=True,
    help="Alpine's base URL [env ALPINE_API_URL].",
)
@click.option("--api-key", envvar="ARGO_API_KEY", help="Key sent as X-API-Key [env ARGO_API_KEY].")
@click.option(
    "--signing-secret",
    envvar="ALPINE_SIGNING_SECRET",
    help="Standard Webhooks secret(s) whsec_..., comma-separated [env ALPINE_SIGNING_SECRET].",
)
@db_option
def run(
    once: bool,
    batch_size: int,
    lease_seconds: float,
    posts_in_flight: int,
    outage_cap_seconds: float,
    metrics_port: int,
    alpine_url: str,
    api_key: str | None,
    signing_secret: str | None,
    db_path: Path,
) -> None:
    """Deliver outbox rows to Alpine until SIGTERM (or, with --once, until drained)."""
    try:
        if not sync_enabled():
            click.echo("relay: ALPINE_SYNC_ENABLED is false; events stay in the outbox", err=True)
            return
        secrets = signing_secrets(signing_secret)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    if not api_key:
        raise click.UsageError("no API key: set ARGO_API_KEY or --api-key")
    if not alpine_url.startswith(("http://", "https://")):
        raise click.BadParameter("must start with http:// or https://", param_hint="ALPINE_API_URL")

    metrics = RelayMetrics()
    store = OutboxStore.open(db_path)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signals_module.signal(signals_module.SIGTERM, request_stop)
    signals_module.signal(signals_module.SIGINT, request_stop)
    settings = RelaySettings(
        worker_id=new_worker_id(),
        batch_size=batch_size,
        lease=timedelta(seconds=lease_seconds),
        posts_in_flight=posts_in_flight,
        outage_policy=RetryPolicy(base_seconds=0.5, cap_seconds=outage_cap_seconds),
    )
    with httpx.Client(
        base_url=alpine_url, timeout=default_timeout(), follow_redirects=False
    ) as client:
        deliverer = Deliverer(client, api_key=api_key, signing_secrets=secrets, metrics=metrics)
        relay = Relay(
            store, deliverer, RetryPolicy(), metrics, settings, notifier=SystemdNotifier()
        )
        log.warning("alpine health: %s", deliverer.health(), extra={"event": "health_check"})
        if once:
            result = relay.drain(stop)
            relay.close()
            click.echo(
                f"relay: delivered {result.delivered}, retried {result.retried}, "
                f"dead {result.dead}, released {result.released}"
            )
            store.close()
            if result.halt in (Halt.OUTAGE, Halt.PAUSED):
                click.echo(f"relay: stopped early ({result.halt}); rows stay pending", err=True)
                sys.exit(1)
            return
        if metrics_port:
            status_store = OutboxStore.open(db_path)
            metrics.watch_outbox(lambda: status_store.backlog(utc_now()))
            start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
        log.warning("relay started", extra={"event": "started", "worker": settings.worker_id})
        relay.run(stop)
        relay.close()
    store.close()
    log.warning("relay stopped", extra={"event": "stopped"})


def _status_dict(status: OutboxStatus, workers: list[Worker]) -> dict[str, object]:
    now = utc_now()
    age = (
        (now - status.oldest_pending_created_at).total_seconds()
        if status.oldest_pending_created_at
        else 0.0
    )
    alive = [w for w in workers if w.alive(now)]
    paused = [w for w in alive if w.state is WorkerState.PAUSED]
    return {
        "pending": status.pending,
        "in_flight": status.in_flight,
        "dead": status.dead,
        "delivered": status.delivered,
        "oldest_pending_age_seconds": round(max(age, 0.0), 3),
        "relays_running": len(alive),
        "paused": bool(paused),
        "paused_reason": paused[0].detail if paused else None,
        "last_success": to_text(status.last_delivered_at) if status.last_delivered_at else None,
        "last_error": status.last_error,
    }


def _open_existing(db_path: Path) -> OutboxStore:
    if not db_path.exists():
        raise click.UsageError(f"no database at {db_path} (set --db or ARGO_DB)")
    return OutboxStore.open(db_path)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
def status(as_json: bool, db_path: Path) -> None:
    """Show pending, lag, in flight, dead letters, paused or not, last error and success."""
    store = _open_existing(db_path)
    try:
        now = utc_now()
        report = _status_dict(store.status(now), store.admin().workers(now))
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(report))
        return
    for key, value in report.items():
        click.echo(f"{key:<28} {value if value is not None else '-'}")


@main.command()
@click.option("--since", required=True, help="Start of the window: 2h, 7d or ISO-8601 (inclusive).")
@click.option("--until", help="End of the window: 2h, 7d or ISO-8601 (exclusive); default now.")
@click.option("--symbol", help="Only this symbol.")
@click.option("--dry-run", is_flag=True, help="Count what would be enqueued; change nothing.")
@db_option
def replay(since: str, until: str | None, symbol: str | None, dry_run: bool, db_path: Path) -> None:
    """Enqueue fresh events for stored signals in a window (Alpine dedupes what it has)."""
    now = utc_now()
    try:
        window = ReplayWindow(
            since=parse_since(since, now),
            until=parse_since(until, now) if until else None,
            symbol=symbol.upper() if symbol else None,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    store = SignalStore.open(db_path) if db_path.exists() else None
    if store is None:
        raise click.UsageError(f"no database at {db_path} (set --db or ARGO_DB)")
    try:
        found = matching(store, window)
        if dry_run:
            click.echo(f"would enqueue {len(found)} events (dry run; nothing changed)")
            return
        with click.progressbar(length=len(found), label="enqueueing", file=sys.stderr) as bar:
            count = enqueue(store, found, now, progress=bar.update)
    finally:
        store.close()
    click.echo(f"enqueued {count} events")


@main.group()
def dead() -> None:
    """Inspect and retry dead letters."""


@dead.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@db_option
def dead_list(as_json: bool, db_path: Path) -> None:
    """List dead-lettered events, oldest first, with why they died."""
    store = _open_existing(db_path)
    try:
        rows = store.admin().dead_letters()
    finally:
        store.close()
    for row in rows:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "event_id": row.event_id,
                        "event_type": row.event_type,
                        "signal_id": row.signal_id,
                        "attempts": row.attempts,
                        "dead_at": to_text(row.dead_at),
                        "last_error": row.last_error,
                    }
                )
            )
        else:
            click.echo(
                f"{row.event_id}  {row.event_type:<15} {row.signal_id}  attempts={row.attempts}"
                f"  dead_at={to_text(row.dead_at)}  {row.last_error}"
            )
    if not as_json:
        click.echo(f"{len(rows)} dead letter(s)", err=True)


@dead.command(name="retry")
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead letter.")
@click.argument("event_ids", nargs=-1)
@db_option
def dead_retry(retry_all: bool, event_ids: tuple[str, ...], db_path: Path) -> None:
    """Make dead letters due again with a fresh attempt count."""
    if retry_all == bool(event_ids):
        raise click.UsageError("give either --all or one or more EVENT_IDs")
    store = _open_existing(db_path)
    try:
        count = store.admin().retry_dead(None if retry_all else list(event_ids), utc_now())
    finally:
        store.close()
    click.echo(f"requeued {count} dead letter(s)")
    if event_ids and count < len(event_ids):
        click.echo(f"{len(event_ids) - count} of the given ids are not dead letters", err=True)
        sys.exit(1)


@main.command()
@click.option("--older-than", required=True, help="Age of delivered rows to delete: 7d, 12h, ...")
@db_option
def prune(older_than: str, db_path: Path) -> None:
    """Delete delivered outbox rows older than --older-than, in batches."""
    now = utc_now()
    try:
        cutoff = parse_since(older_than, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc
    store = _open_existing(db_path)
    try:
        deleted = store.admin().prune_delivered(cutoff)
    finally:
        store.close()
    click.echo(f"deleted {deleted} delivered row(s) older than {to_text(cutoff)}")


def entry_point() -> None:
    """Console entry point (see argo.options.run_group)."""
    run_group(main, "relay", (RelayError, ArgoError, sqlite3.Error, OSError))
