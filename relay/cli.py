"""`relay`: deliver Argo's outbox to Alpine, and inspect it. Thin commands over relay.app."""

from __future__ import annotations

import json
import logging
import signal as signals_module
import sqlite3
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click
import psycopg
from prometheus_client import start_http_server

from argo.outbox import (
    ArgoError,
    OutboxMissingError,
    OutboxStatus,
    SchemaError,
    TableHealth,
    Worker,
    WorkerState,
)
from argo.process.cli import run_group
from argo.process.logsetup import setup_logging
from argo.process.sdnotify import SystemdNotifier
from argo.signals.replay import ReplayWindow, enqueue, matching, open_store
from argo.timeutil import parse_since, to_text, utc_now
from relay import __version__
from relay.app import open_outbox, relay_app
from relay.cli_attempts import attempts
from relay.cli_common import config_with, db_option, loaded_with, window
from relay.cli_common import open_existing as _open
from relay.cli_dead import dead
from relay.cli_receipts import receipts
from relay.cli_trace import trace
from relay.cli_verify import on_tty, verify
from relay.config import describe
from relay.errors import ConfigError, RelayError
from relay.loop import DrainReport
from relay.settings_load import redacted, reread_credentials
from relay.status_view import render, verdict

log = logging.getLogger("relay")

EXIT_STOPPED_EARLY = 3


@click.group()
@click.version_option(__version__, prog_name="relay")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file, section [relay] [env ARGO_ALPINE_CONFIG;"
    " default /etc/argo-alpine/argo-alpine.toml when it exists].",
)
def main(verbose: int, config_path: Path | None) -> None:
    """Relay: deliver Argo's outbox to Alpine, at least once, in order."""
    setup_logging(verbose)


@main.command()
@click.option(
    "--once", is_flag=True, help="Deliver everything due, then exit (3 if stopped early)."
)
@click.option(
    "--deadline-seconds",
    type=click.FloatRange(min=0.1),
    help="With --once: stop (exit 3) if still delivering after this long.",
)
@click.option("--batch-size", type=int, help=describe("batch_size"))
@click.option("--lease-seconds", type=float, help=describe("lease_seconds"))
@click.option("--posts-in-flight", type=int, help=describe("posts_in_flight"))
@click.option("--windows-in-flight", type=int, help=describe("windows_in_flight"))
@click.option("--outage-cap-seconds", type=float, help=describe("outage_cap_seconds"))
@click.option("--metrics-port", type=int, help=describe("metrics_port"))
@click.option("--alpine-url", help=describe("alpine_url"))
@click.option("--api-key", help=describe("api_key"))
@click.option("--signing-secret", help=describe("signing_secret"))
@db_option
def run(once: bool, deadline_seconds: float | None, **flags: Any) -> None:
    """Deliver outbox rows to Alpine until SIGTERM (or, with --once, until drained).

    With --once the exit code is 0 when nothing due is left, 3 when delivery stopped
    early (outage, paused, rate limit past the deadline, deadline, SIGTERM).
    """
    loaded = loaded_with(**flags)
    config = loaded.config
    if not config.sync_enabled:
        click.echo("relay: ALPINE_SYNC_ENABLED is false; events stay in the outbox", err=True)
        return
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signals_module.signal(signals_module.SIGTERM, request_stop)
    signals_module.signal(signals_module.SIGINT, request_stop)
    with relay_app(
        config,
        notifier=SystemdNotifier(),
        listen_for_doorbell=not once,
        reread_credentials=lambda: reread_credentials(loaded),
    ) as app:
        log.warning("alpine health: %s", app.deliverer.health()[1], extra={"event": "health_check"})
        if once:
            report = app.relay.drain(stop, deadline_seconds)
            _report_drain(report)
            return
        if config.metrics_port:
            status_store = open_outbox(config)
            app.metrics.watch_outbox(
                lambda: status_store.backlog(utc_now()), status_store.table_health
            )
            start_http_server(config.metrics_port, addr="127.0.0.1", registry=app.metrics.registry)
        log.warning("relay started", extra={"event": "started", "worker": app.config.worker_id})
        try:
            app.relay.run(stop)
        except psycopg.OperationalError as exc:
            raise RelayError(
                f"lost Argo's PostgreSQL outbox (ARGO_DB): {exc}; the rows this relay held"
                " are taken over by the next relay to start"
            ) from exc
    log.warning("relay stopped", extra={"event": "stopped"})


def _report_drain(report: DrainReport) -> None:
    click.echo(
        f"relay: delivered {report.delivered}, charged {report.charged}, "
        f"dead {report.dead}, released {report.released}"
    )
    if report.stopped is not None:
        click.echo(
            f"relay: stopped early ({report.stopped.value}): {report.reason}; rows stay pending",
            err=True,
        )
        sys.exit(EXIT_STOPPED_EARLY)


def _status_dict(status: OutboxStatus, workers: list[Worker]) -> dict[str, object]:
    now = utc_now()
    backlog = status.backlog
    oldest = backlog.oldest_pending_created_at
    age = (now - oldest).total_seconds() if oldest else 0.0
    alive = [w for w in workers if w.alive(now)]
    paused = [w for w in alive if w.state is WorkerState.PAUSED]
    return {
        "pending": backlog.pending,
        "in_flight": backlog.in_flight,
        "dead": backlog.dead,
        "parked": backlog.parked,
        "delivered": status.delivered,
        "oldest_pending_age_seconds": round(max(age, 0.0), 3),
        "relays_running": len(alive),
        "paused": bool(paused),
        "paused_reason": paused[0].detail if paused else None,
        "relay_detail": next((w.detail for w in alive if w.detail), None),
        "last_success": to_text(status.last_delivered_at) if status.last_delivered_at else None,
        "last_error": status.last_error,
        "last_freshness_seconds": status.last_freshness_seconds,
        "relays": [_worker_dict(w, now) for w in workers],
        "table": _table_dict(status.table) if status.table else None,
    }


def _worker_dict(worker: Worker, now: datetime) -> dict[str, object]:
    return {
        "worker_id": worker.worker_id,
        "host": worker.host,
        "pid": worker.pid,
        "state": worker.state.value,
        "detail": worker.detail,
        "started_at": to_text(worker.started_at),
        "heartbeat_at": to_text(worker.heartbeat_at),
        "alive": worker.alive(now),
    }


def _table_dict(table: TableHealth) -> dict[str, object]:
    return {
        "live_rows": table.live_rows,
        "dead_tuples": table.dead_rows,
        "total_bytes": table.total_bytes,
        "last_vacuum": to_text(table.last_vacuum) if table.last_vacuum else None,
    }


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
def status(as_json: bool, db_path: Path | None) -> None:
    """Show a verdict (delivering, behind, paused: why, no relay running) and pending, lag,
    in flight, dead letters, parked, relays alive, freshness, last error, what to do next."""
    store = _open(db_path)
    try:
        now = utc_now()
        status_now, workers = store.status(now), store.admin().workers(now)
    finally:
        store.close()
    view = verdict(status_now, workers, now)
    report = _status_dict(status_now, workers) | {"verdict": view.text}
    if as_json:
        click.echo(json.dumps(report))
        return
    colours = {"green": "green", "yellow": "yellow", "red": "red"}
    click.secho(f"● {view.text}", fg=colours[view.colour], bold=True)
    for label, text in render(status_now, workers, now):
        click.echo(f"  {label:<11} {text}")
    for step in view.next_steps or ("nothing to do",):
        click.echo(f"  {'next':<11} {step}")


@main.command()
@click.option("--since", required=True, help="Start of the window: 2h, 7d or ISO-8601 (inclusive).")
@click.option("--until", help="End of the window: 2h, 7d or ISO-8601 (exclusive); default now.")
@click.option("--symbol", help="Only this symbol.")
@click.option("--dry-run", is_flag=True, help="Count what would be enqueued; change nothing.")
@db_option
def replay(
    since: str, until: str | None, symbol: str | None, dry_run: bool, db_path: Path | None
) -> None:
    """Enqueue fresh events (creation, then execution and outcome when there are) for
    stored signals in a window; Alpine dedupes what it has."""
    now = utc_now()
    start, end = window(since, until, now)
    replayed = ReplayWindow(since=start, until=end, symbol=symbol.upper() if symbol else None)
    _open(db_path).close()  # exists, holds an outbox, schema current
    store = open_store(config_with(db_path=db_path).db_path)
    try:
        found = matching(store, replayed)
        if dry_run:
            click.echo(f"would enqueue events for {len(found)} signals (dry run; nothing changed)")
            return
        if on_tty():
            with click.progressbar(length=len(found), label="enqueueing", file=sys.stderr) as bar:
                count = enqueue(store, found, now, progress=bar.update)
        else:
            count = enqueue(store, found, now)
    finally:
        store.close()
    executions = f", {count.executions} executions" if count.executions else ""
    click.echo(f"enqueued {count.events} events ({count.outcomes} outcomes{executions})")
    if count.outcomes_without_time:
        click.echo(
            f"{count.outcomes_without_time} outcome(s) not re-announced: no close time recorded",
            err=True,
        )


@main.command()
@click.option("--older-than", required=True, help="Age of delivered rows to delete: 7d, 12h, ...")
@db_option
def prune(older_than: str, db_path: Path | None) -> None:
    """Delete delivered outbox rows older than --older-than, in batches."""
    now = utc_now()
    try:
        cutoff = parse_since(older_than, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc
    store = _open(db_path)
    try:
        admin = store.admin()
        if on_tty():
            label = f"pruning delivered rows older than {to_text(cutoff)}"
            total = admin.prunable(cutoff)
            with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
                deleted = admin.prune_delivered(cutoff, progress=bar.update)
        else:
            deleted = admin.prune_delivered(cutoff)
    finally:
        store.close()
    click.echo(f"deleted {deleted} delivered row(s) older than {to_text(cutoff)}")


@main.group(name="config")
def config_group() -> None:
    """The effective settings."""


@config_group.command(name="show")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def config_show(as_json: bool) -> None:
    """Every setting, its effective value and where it came from (secrets redacted)."""
    loaded = loaded_with()
    rows = redacted(loaded)
    if as_json:
        report = {name: {"value": value, "source": source} for name, value, source in rows}
        click.echo(json.dumps({"config_file": str(loaded.file) if loaded.file else None} | report))
        return
    click.echo(f"config file: {loaded.file or '(none)'}")
    for name, value, source in rows:
        click.echo(f"  {name:<24} {value:<32} {source}")


main.add_command(dead)
main.add_command(verify)
main.add_command(receipts)
main.add_command(attempts)
main.add_command(trace)


def entry_point() -> None:
    """Console entry point (see argo.process.cli.run_group)."""
    run_group(
        main,
        "relay",
        (RelayError, ArgoError, sqlite3.Error, psycopg.Error, OSError),
        usage_failures=(ConfigError, OutboxMissingError, SchemaError),
    )
