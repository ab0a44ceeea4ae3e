"""`relay trace`: one signal's way in one place, from this side of the hop. For each of its
events: when Argo committed it, every POST (the attempt log), Alpine's answer, when it was
delivered, and where Alpine stored it (its signed receipt: time stored, feed position)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from argo.outbox import KeptReceipt, LoggedAttempt, OutboxEntry
from argo.timeutil import to_text
from relay.cli_attempts import attempt_line
from relay.cli_common import db_option
from relay.cli_common import open_existing as _open


@click.command()
@click.argument("signal_id")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every event.")
@db_option
def trace(signal_id: str, as_json: bool, db_path: Path | None) -> None:
    """Where is SIGNAL_ID (or the signal of an EVENT_ID)? For each of its events (creation,
    outcome, execution): when Argo committed it, each delivery attempt with Alpine's answer,
    when it was delivered (or why not yet: the next attempt, the last error, dead), and when
    and at which feed position Alpine stored it, from its signed receipt. Exit 1 when the
    outbox holds no event of it (never written here, or pruned: `relay receipts` keeps the
    receipts of pruned events)."""
    store = _open(db_path)
    try:
        entries = store.attempts().entries(signal_id)
        if entries and entries[0].signal_id != signal_id:  # an event id was given
            signal_id = entries[0].signal_id
            entries = store.attempts().entries(signal_id)
        logged = store.attempts().find(signal_id)
        kept = {r.event_id: r for r in store.receipts().find(signal_id)}
    finally:
        store.close()
    if not entries:
        click.echo(f"no event of {signal_id} in the outbox (never written here, or pruned)")
        sys.exit(1)
    if as_json:
        events = [_as_json(e, logged, kept.get(e.event_id)) for e in entries]
        click.echo(json.dumps({"signal_id": signal_id, "events": events}, indent=2))
        return
    click.echo(f"signal {signal_id}")
    for entry in entries:
        _print(entry, [a for a in logged if a.event_id == entry.event_id], kept.get(entry.event_id))


def _print(entry: OutboxEntry, attempts: list[LoggedAttempt], receipt: KeptReceipt | None) -> None:
    click.echo(f"{entry.event_type}  event {entry.event_id}")
    click.echo(f"  committed by Argo   {to_text(entry.committed_at)}")
    if entry.trace_id is not None:
        click.echo(f"  trace               {entry.trace_id} (OpenTelemetry: argo, relay, alpine)")
    for attempt in attempts:
        click.echo(attempt_line(attempt))
    if not attempts:
        click.echo("  (no attempt logged)")
    click.echo(f"  {_standing(entry)}")
    if receipt is not None:
        r = receipt.receipt
        click.echo(
            f"  stored by Alpine    {r.get('stored_at')} at feed seq {r.get('seq')},"
            f" sha256 {r.get('sha256')} (signed receipt, key {r.get('kid')})"
        )


def _standing(entry: OutboxEntry) -> str:
    if entry.delivered_at is not None:
        after = _seconds(entry.committed_at, entry.delivered_at)
        return f"delivered           {to_text(entry.delivered_at)} ({after} after commit)"
    if entry.discarded_at is not None:
        return f"discarded           {to_text(entry.discarded_at)}: {entry.last_error}"
    if entry.dead_at is not None:
        return f"dead                {to_text(entry.dead_at)}: {entry.last_error}"
    if entry.claimed_by:
        return f"being delivered by  {entry.claimed_by}"
    if entry.next_attempt_at is not None and entry.charged:
        return (
            f"pending             next attempt {to_text(entry.next_attempt_at)}"
            f" after {entry.charged} failure(s): {entry.last_error}"
        )
    waiting = f" (last: {entry.last_error})" if entry.last_error else ""
    return f"pending             due now, or behind an earlier event of the signal{waiting}"


def _seconds(start: datetime, end: datetime) -> str:
    return f"{(end - start).total_seconds():.3f} s"


def _as_json(
    entry: OutboxEntry, logged: list[LoggedAttempt], receipt: KeptReceipt | None
) -> dict[str, Any]:
    return entry.as_json() | {
        "attempts": [a.as_json() for a in logged if a.event_id == entry.event_id],
        "receipt": receipt.as_json() if receipt is not None else None,
    }
