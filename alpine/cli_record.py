"""`alpine record head`: the published record's chain head, to pin somewhere Alpine does
not control."""

from __future__ import annotations

import json

import click

from alpine.record import RecordSealer, head_entry
from alpine.settings_load import load
from alpine.store import make_engine


@click.group()
def record() -> None:
    """Alpine's published record (docs/subscriber-api.md, "The record")."""


@record.command(name="head")
def record_head() -> None:
    """Seal what has committed, then print the last sealed entry as one JSON line (seq,
    hash, kid, sig, sealed_at). Run it daily and keep the lines elsewhere: a history
    that no longer passes through a published head was rewritten. Exit 1 when there is
    no record (no receipt key, or nothing stored)."""
    settings = load().settings
    engine = make_engine(settings.database_url)
    try:
        sealer = RecordSealer(engine, settings.receipt_key) if settings.receipt_key else None
        entry = head_entry(engine, sealer)
    finally:
        engine.dispose()
    if entry is None:
        click.echo("no record: no receipt key (ALPINE_RECEIPT_KEY), or nothing stored", err=True)
        raise SystemExit(1)
    click.echo(json.dumps(entry, separators=(",", ":")))
