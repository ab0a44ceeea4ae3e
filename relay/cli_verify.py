"""`relay verify`: Argo's committed signals against Alpine's list, on a live system."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from argo.signals.replay import open_store
from argo.timeutil import to_text, utc_now
from relay.app import verifier
from relay.cli_common import config_with as _config
from relay.cli_common import db_option, window
from relay.config import describe
from relay.verify import repair as repair_missing
from relay.verify import verify as reconcile_window


@click.command()
@click.option("--since", required=True, help="Start of the window: 2h, 7d or ISO-8601 (inclusive).")
@click.option("--until", help="End of the window: 2h, 7d or ISO-8601 (exclusive); default now.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--repair", is_flag=True, help="Replay exactly the signals missing in Alpine.")
@click.option("--alpine-url", help=describe("alpine_url"))
@click.option("--api-key", help=describe("api_key"))
@db_option
def verify(since: str, until: str | None, as_json: bool, repair: bool, **flags: Any) -> None:
    """Reconcile Argo's committed signals in a window with Alpine's list: matched,
    missing, hash mismatch, unknown to Argo, still pending; and check every receipt Alpine
    signed for them (its signature, and that Alpine still holds what it names). Exit 0
    when nothing is missing, mismatched or contradicted by a receipt, 1 otherwise. Safe on
    a live system."""
    now = utc_now()
    start, until_time = window(since, until or to_text(now), now)
    end = until_time or now
    progress = _Progress(on_tty())
    config = _config(**flags)
    with verifier(config) as (outbox, deliverer):  # the outbox it opens proves the schema
        signals = open_store(config.db_path)
        try:
            result = reconcile_window(
                signals,
                deliverer,
                start,
                end,
                progress=progress,
                receipts=outbox.receipts(),
                keys=config.receipt_keys(),
            )
            progress.done()
            report = result.as_dict()
            missing = result.reconciliation.missing
            if repair and missing:
                count = repair_missing(signals, missing, utc_now())
                report["repaired"] = count.signals
        finally:
            signals.close()
    if as_json:
        click.echo(json.dumps(report))
    else:
        _print_reconciliation(report)
    if not result.ok:
        sys.exit(1)


def on_tty() -> bool:
    """Whether stderr is a terminal (progress is drawn only there; logs stay clean)."""
    return sys.stderr.isatty()


class _Progress:
    """`reading Alpine's list: N` on stderr, rewritten in place while pages arrive (on a
    terminal only), then always one final count line."""

    def __init__(self, live: bool) -> None:
        self.seen, self.live = 0, live

    def __call__(self, count: int) -> None:
        self.seen += count
        if self.live:
            click.echo(f"\rreading Alpine's list: {self.seen}", err=True, nl=False)

    def done(self) -> None:
        """The final count line (ending the in-place line on a terminal)."""
        ending = "\r" if self.live else ""
        click.echo(f"{ending}read {self.seen} entries of Alpine's list", err=True)


def _print_reconciliation(report: dict[str, Any]) -> None:
    for name in ("matched", "missing", "mismatched", "unknown", "pending"):
        first = report["first"].get(name) if name != "matched" else None
        shown = f"  e.g. {', '.join(first)}" if first else ""
        click.echo(f"{name:<12} {report[name]}{shown}")
    receipts = report["receipts"]
    keys = "pinned keys" if receipts["keys"] == "pinned" else "the keys Alpine serves"
    click.echo(
        f"receipts     {receipts['checked']} checked with {keys}:"
        f" {receipts['forged']} not signed by them, {receipts['broken']} contradicted by Alpine"
    )
    for line in receipts["first"]:
        click.echo(f"  {line}")
    if "repaired" in report:
        click.echo(f"repaired     {report['repaired']} (replays enqueued; the relay delivers them)")
    click.echo("ok" if report["ok"] else "NOT OK: signals are missing or altered in Alpine")
