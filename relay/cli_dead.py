"""`relay dead`: dead letters grouped by cause, retried or given up."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from argo.outbox import DeadRow, OutboxStore
from argo.timeutil import to_text, utc_now
from relay.cli_common import db_option
from relay.cli_common import open_existing as _open
from relay.status_view import ago
from relay.triage import cause_id, cause_of, group, select


@click.group()
def dead() -> None:
    """Inspect and retry dead letters."""


@dead.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event, with its cause.")
@click.option("--events", is_flag=True, help="Every event instead of one line per cause.")
@db_option
def dead_list(as_json: bool, events: bool, db_path: Path | None) -> None:
    """Dead letters grouped by cause (count, first and last seen), or one per event."""
    store = _open(db_path)
    try:
        rows = store.admin().dead_letters()
        posts = store.attempts().counts(r.id for r in rows) if as_json or events else {}
    finally:
        store.close()
    if as_json or events:
        for row in rows:
            _echo_dead(row, posts.get(row.id, 0), as_json)
        if not as_json:
            click.echo(
                f"{len(rows)} dead letter(s); every POST of one: `relay attempts EVENT_ID`",
                err=True,
            )
        return
    now = utc_now()
    for cause in group(rows):
        first = ago(cause.first_dead_at, now) if cause.first_dead_at else "-"
        last = ago(cause.last_dead_at, now) if cause.last_dead_at else "-"
        click.echo(f"[{cause.id}] {len(cause.event_ids):>6}  first {first}, last {last}")
        click.echo(f"         {cause.cause}")
    click.echo(
        f"{len(rows)} dead letter(s); retry or give up a cause with"
        " `relay dead retry --cause ID` / `relay dead discard --cause ID`; each event:"
        " `relay dead list --events`, its POSTs: `relay attempts EVENT_ID`",
        err=True,
    )


def _echo_dead(row: DeadRow, posts: int, as_json: bool) -> None:
    if as_json:
        fields = {
            "event_id": row.event_id,
            "event_type": row.event_type,
            "signal_id": row.signal_id,
            "attempts": row.attempts,
            "posts_logged": posts,
            "dead_at": to_text(row.dead_at),
            "last_error": row.last_error,
            "cause": cause_of(row.last_error),
            "cause_id": cause_id(cause_of(row.last_error)),
        }
        click.echo(json.dumps(fields))
        return
    click.echo(
        f"{row.event_id}  {row.event_type:<15} {row.signal_id}  attempts={row.attempts}"
        f" posts={posts}"
        f"  dead_at={to_text(row.dead_at)}  {row.last_error}"
    )


def _chosen(
    store: OutboxStore, everything: bool, cause: str | None, event_ids: tuple[str, ...]
) -> list[str] | None:
    """The event ids a retry or discard acts on (None: all dead letters)."""
    if sum((everything, cause is not None, bool(event_ids))) != 1:
        raise click.UsageError("give exactly one of --all, --cause ID or EVENT_IDs")
    if everything:
        return None
    if cause is None:
        return list(event_ids)
    found = select(group(store.admin().dead_letters()), cause)
    if found is None:
        raise click.BadParameter(f"no dead letters with cause {cause!r}", param_hint="--cause")
    return found.event_ids


@dead.command(name="retry")
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead letter.")
@click.option("--cause", help="Retry the dead letters of one cause (its id from `dead list`).")
@click.argument("event_ids", nargs=-1)
@db_option
def dead_retry(
    retry_all: bool, cause: str | None, event_ids: tuple[str, ...], db_path: Path | None
) -> None:
    """Make dead letters due again with a fresh attempt count (parked events follow)."""
    store = _open(db_path)
    try:
        chosen = _chosen(store, retry_all, cause, event_ids)
        count = store.admin().retry_dead(chosen, utc_now())
    finally:
        store.close()
    _acted(f"requeued {count} dead letter(s)", count, event_ids)


def _acted(summary: str, count: int, event_ids: tuple[str, ...]) -> None:
    """Print what was done; exit 1 when some of the given ids were not dead letters."""
    click.echo(summary)
    if event_ids and count < len(event_ids):
        click.echo(f"{len(event_ids) - count} of the given ids are not dead letters", err=True)
        sys.exit(1)


@dead.command(name="discard")
@click.option("--cause", help="Give up the dead letters of one cause (its id from `dead list`).")
@click.argument("event_ids", nargs=-1)
@db_option
def dead_discard(cause: str | None, event_ids: tuple[str, ...], db_path: Path | None) -> None:
    """Give dead letters up: kept and marked (never deleted), no longer counted or alerted."""
    store = _open(db_path)
    try:
        chosen = _chosen(store, False, cause, event_ids) or []
        count = store.admin().discard_dead(chosen, utc_now())
    finally:
        store.close()
    _acted(
        f"discarded {count} dead letter(s) (kept in the outbox, marked discarded_at)",
        count,
        event_ids,
    )
