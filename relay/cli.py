"""`relay`: deliver Argo's outbox to Alpine, and inspect it. Thin commands over relay.app."""

from __future__ import annotations

import json
import logging
import signal as signals_module
import sqlite3
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click
from prometheus_client import start_http_server

from argo.outbox import (
    ArgoError,
    OutboxMissingError,
    OutboxStatus,
    OutboxStore,
    SchemaError,
    Worker,
    WorkerState,
)
from argo.outbox.replay import ReplayWindow, enqueue, matching, open_store
from argo.process.cli import run_group
from argo.process.logsetup import setup_logging
from argo.process.sdnotify import SystemdNotifier
from argo.timeutil import parse_since, to_text, utc_now
from relay import __version__
from relay.app import open_outbox, relay_app, verifier
from relay.config import RelayConfig, describe
from relay.errors import ConfigError, RelayError
from relay.loop import DrainReport
from relay.verify import repair as repair_missing
from relay.verify import verify as reconcile_window

log = logging.getLogger("relay")

EXIT_STOPPED_EARLY = 3

db_option = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help=describe("db_path")
)


def _config(**flags: Any) -> RelayConfig:
    return RelayConfig.from_env().with_overrides(**flags)


@click.group()
@click.version_option(__version__, prog_name="relay")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
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
    config = _config(**flags)
    if not config.sync_enabled:
        click.echo("relay: ALPINE_SYNC_ENABLED is false; events stay in the outbox", err=True)
        return
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signals_module.signal(signals_module.SIGTERM, request_stop)
    signals_module.signal(signals_module.SIGINT, request_stop)
    with relay_app(config, notifier=SystemdNotifier(), listen_for_doorbell=not once) as app:
        log.warning("alpine health: %s", app.deliverer.health()[1], extra={"event": "health_check"})
        if once:
            report = app.relay.drain(stop, deadline_seconds)
            _report_drain(report)
            return
        if config.metrics_port:
            status_store = open_outbox(config)
            app.metrics.watch_outbox(lambda: status_store.backlog(utc_now()))
            start_http_server(config.metrics_port, addr="127.0.0.1", registry=app.metrics.registry)
        log.warning("relay started", extra={"event": "started", "worker": app.config.worker_id})
        app.relay.run(stop)
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
    }


def _open(db_path: Path | None) -> OutboxStore:
    return open_outbox(_config(db_path=db_path))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@db_option
def status(as_json: bool, db_path: Path | None) -> None:
    """Show pending, lag, in flight, dead letters, parked, paused or not, last error."""
    store = _open(db_path)
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
def replay(
    since: str, until: str | None, symbol: str | None, dry_run: bool, db_path: Path | None
) -> None:
    """Enqueue fresh events (creation, and outcome when there is one) for stored signals
    in a window; Alpine dedupes what it has."""
    now = utc_now()
    try:
        window = ReplayWindow(
            since=parse_since(since, now),
            until=parse_since(until, now) if until else None,
            symbol=symbol.upper() if symbol else None,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    _open(db_path).close()  # exists, holds an outbox, schema current
    store = open_store(_config(db_path=db_path).db_path)
    try:
        found = matching(store, window)
        if dry_run:
            click.echo(f"would enqueue events for {len(found)} signals (dry run; nothing changed)")
            return
        with click.progressbar(length=len(found), label="enqueueing", file=sys.stderr) as bar:
            count = enqueue(store, found, now, progress=bar.update)
    finally:
        store.close()
    click.echo(f"enqueued {count.signals + count.outcomes} events ({count.outcomes} outcomes)")
    if count.outcomes_without_time:
        click.echo(
            f"{count.outcomes_without_time} outcome(s) not re-announced: no close time recorded",
            err=True,
        )


@main.command()
@click.option("--since", required=True, help="Start of the window: 2h, 7d or ISO-8601 (inclusive).")
@click.option("--until", help="End of the window: 2h, 7d or ISO-8601 (exclusive); default now.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--repair", is_flag=True, help="Replay exactly the signals missing in Alpine.")
@click.option("--alpine-url", help=describe("alpine_url"))
@click.option("--api-key", help=describe("api_key"))
@db_option
def verify(since: str, until: str | None, as_json: bool, repair: bool, **flags: Any) -> None:
    """Reconcile Argo's committed signals in a window with Alpine's list: matched,
    missing, hash mismatch, unknown to Argo, still pending. Exit 0 when nothing is
    missing or mismatched, 1 otherwise. Safe on a live system."""
    now = utc_now()
    try:
        start = parse_since(since, now)
        end = parse_since(until, now) if until else now
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since/--until") from exc
    with verifier(_config(**flags)) as (outbox, deliverer):
        result = reconcile_window(outbox, deliverer, start, end, progress=_Progress())
        click.echo("", err=True)
        report = result.as_dict()
        if repair and result.missing:
            count = repair_missing(outbox, result.missing, utc_now())
            report["repaired"] = count.signals
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print_reconciliation(report)
    if not result.ok:
        sys.exit(1)


class _Progress:
    """`reading Alpine's list: N` on stderr, rewritten in place while pages arrive."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, count: int) -> None:
        self.seen += count
        click.echo(f"\rreading Alpine's list: {self.seen}", err=True, nl=False)


def _print_reconciliation(report: dict[str, Any]) -> None:
    for name in ("matched", "missing", "mismatched", "unknown", "pending"):
        first = report["first"].get(name) if name != "matched" else None
        shown = f"  e.g. {', '.join(first)}" if first else ""
        click.echo(f"{name:<12} {report[name]}{shown}")
    if "repaired" in report:
        click.echo(f"repaired     {report['repaired']} (replays enqueued; the relay delivers them)")
    click.echo("ok" if report["ok"] else "NOT OK: signals are missing or altered in Alpine")


@main.group()
def dead() -> None:
    """Inspect and retry dead letters."""


@dead.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@db_option
def dead_list(as_json: bool, db_path: Path | None) -> None:
    """List dead-lettered events, oldest first, with why they died."""
    store = _open(db_path)
    try:
        rows = store.admin().dead_letters()
    finally:
        store.close()
    for row in rows:
        fields = {
            "event_id": row.event_id,
            "event_type": row.event_type,
            "signal_id": row.signal_id,
            "attempts": row.attempts,
            "dead_at": to_text(row.dead_at),
            "last_error": row.last_error,
        }
        if as_json:
            click.echo(json.dumps(fields))
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
def dead_retry(retry_all: bool, event_ids: tuple[str, ...], db_path: Path | None) -> None:
    """Make dead letters due again with a fresh attempt count (parked events follow)."""
    if retry_all == bool(event_ids):
        raise click.UsageError("give either --all or one or more EVENT_IDs")
    store = _open(db_path)
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
def prune(older_than: str, db_path: Path | None) -> None:
    """Delete delivered outbox rows older than --older-than, in batches."""
    now = utc_now()
    try:
        cutoff = parse_since(older_than, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from exc
    store = _open(db_path)
    try:
        deleted = store.admin().prune_delivered(cutoff)
    finally:
        store.close()
    click.echo(f"deleted {deleted} delivered row(s) older than {to_text(cutoff)}")


def entry_point() -> None:
    """Console entry point (see argo.process.cli.run_group)."""
    run_group(
        main,
        "relay",
        (RelayError, ArgoError, sqlite3.Error, OSError),
        usage_failures=(ConfigError, OutboxMissingError, SchemaError),
    )
