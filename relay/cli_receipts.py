"""`relay receipts`: the receipts Alpine signed for delivered events, for a dispute."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from argo.outbox import KeptReceipt
from argo.timeutil import to_text, utc_now
from relay.cli_common import config_with, db_option, window
from relay.cli_common import open_existing as _open
from relay.receipts import ReceiptKeys


@click.command()
@click.argument("event_or_signal", required=False)
@click.option("--since", help="Receipts received since: 2h, 7d or ISO-8601 (inclusive).")
@click.option("--until", help="... and before: 2h, 7d or ISO-8601 (exclusive); default now.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, each receipt whole.")
@db_option
def receipts(
    event_or_signal: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
    db_path: Path | None,
) -> None:
    """Print Alpine's receipts for one event (EVENT_ID), for every event of a signal
    (SIGNAL_ID), or for those received in a window (--since). Each is Alpine's Ed25519
    signature over the event, the SHA-256 it stored, its feed position and the time it
    stored it: hand it over whole; anyone can check it with Alpine's public key
    (docs/http-api.md, "Receipts"). With RELAY_ALPINE_RECEIPT_KEYS set, each one's
    signature is checked here too. Exit 1 when none is found or one does not verify."""
    if (event_or_signal is None) == (since is None):
        raise click.UsageError("give EVENT_ID or SIGNAL_ID, or --since (one of them)")
    if until is not None and since is None:
        raise click.UsageError("--until goes with --since")
    config = config_with(db_path=db_path)
    keys = config.receipt_keys()
    store = _open(db_path)
    try:
        book = store.receipts()
        if event_or_signal is not None:
            found = book.find(event_or_signal)
        else:
            assert since is not None
            now = utc_now()
            start, end = window(since, until, now)
            found = book.between(start, end or now)
    finally:
        store.close()
    problems = [keys.problem(k.receipt) if keys else None for k in found]
    if as_json:
        items = [
            k.as_json() | {"signature": _verdict(keys, p)}
            for k, p in zip(found, problems, strict=True)
        ]
        click.echo(json.dumps(items, indent=2))
    else:
        for kept, problem in zip(found, problems, strict=True):
            _print(kept, _verdict(keys, problem), problem)
    if not found:
        click.echo(
            "no receipt found (delivered before receipts, or from an Alpine without a key)",
            err=True,
        )
    if not found or any(problems):
        sys.exit(1)


def _verdict(keys: ReceiptKeys | None, problem: str | None) -> str:
    if keys is None:
        return "not checked (RELAY_ALPINE_RECEIPT_KEYS unset)"
    return "valid" if problem is None else "INVALID"


def _print(kept: KeptReceipt, verdict: str, problem: str | None) -> None:
    receipt = kept.receipt
    click.echo(
        f"{kept.event_type} of {kept.signal_id}  event {kept.event_id}\n"
        f"  stored at {receipt.get('stored_at')} as feed seq {receipt.get('seq')},"
        f" sha256 {receipt.get('sha256')}\n"
        f"  received {to_text(kept.received_at)}, key {receipt.get('kid')}, signature {verdict}"
        + (f": {problem}" if problem else "")
    )
    click.echo(f"  {json.dumps(receipt, sort_keys=True, separators=(',', ':'))}")
