"""`relay attempts`: every POST of an event, or of every event of a signal, as the attempt
log holds it (when, which relay and window, Alpine's status or the transport error, how
long, an excerpt of the answer, and the fate it led to)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from argo.outbox import LoggedAttempt
from argo.timeutil import to_text
from relay.cli_common import db_option
from relay.cli_common import open_existing as _open


@click.command()
@click.argument("event_id", required=False)
@click.option("--signal", "signal_id", help="Every event of this signal instead of one event.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, one object per attempt.")
@db_option
def attempts(
    event_id: str | None, signal_id: str | None, as_json: bool, db_path: Path | None
) -> None:
    """Print every delivery attempt of EVENT_ID (or of every event of --signal ID), oldest
    first: when it started, the relay and window (claim token), Alpine's HTTP status or the
    transport error's class, its duration, an excerpt of the answer and the fate it led to
    (delivered, retry later, retried at once, released, dead; in flight while its window is
    out; unknown when its relay stopped before recording the answer). Rows deleted by
    `relay prune` take their attempts with them. Exit 1 when there are none."""
    if (event_id is None) == (signal_id is None):
        raise click.UsageError("give EVENT_ID or --signal ID (one of them)")
    key = event_id or signal_id
    assert key is not None
    store = _open(db_path)
    try:
        found = store.attempts().find(key)
    finally:
        store.close()
    if event_id is not None:
        found = [a for a in found if a.event_id == event_id]
    if as_json:
        click.echo(json.dumps([a.as_json() for a in found], indent=2))
    else:
        event = None
        for attempt in found:
            if attempt.event_id != event:
                event = attempt.event_id
                click.echo(f"{attempt.event_type} of {attempt.signal_id}  event {event}")
            click.echo(attempt_line(attempt))
    if not found:
        click.echo(
            "no attempt logged (never claimed yet, pruned, or the attempt log was off)", err=True
        )
        sys.exit(1)


def attempt_line(attempt: LoggedAttempt) -> str:
    """One attempt on one line (`relay attempts`, `relay trace`)."""
    said = f"HTTP {attempt.status}" if attempt.status is not None else (attempt.error or "-")
    took = f"{attempt.duration_ms:.1f} ms" if attempt.duration_ms is not None else "-"
    answer = " ".join((attempt.answer or "").split())
    return (
        f"  #{attempt.number:<3} {to_text(attempt.started_at)}  {attempt.relay}"
        f"  window {attempt.window}  {said:<16} {took:>10}  {attempt.fate.value:<15} {answer}"
    ).rstrip()
