"""`alpine follow` (a subscriber's client) and `alpine feed` (the operator's view of the
feed's positions and epoch)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import FrameType

import click
import httpx
from sqlalchemy import select, update

from alpine.follow import Follower, FollowError, load, record_keys, verify_file
from alpine.receipt_issuer import KEYS_PATH
from alpine.settings_load import settings_from_env
from alpine.store import make_engine
from alpine.tables import feed_head

TOKEN_ENV = "ALPINE_SUBSCRIBER_TOKEN"


class _Stopped(Exception):
    """SIGTERM or SIGINT: stop between two events."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


def _token(token_file: Path | None) -> str:
    if token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
    else:
        token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise click.UsageError(f"no token: pass --token-file or set {TOKEN_ENV}")
    return token


@click.command()
@click.option(
    "--url",
    envvar="ALPINE_URL",
    default="http://127.0.0.1:9001",
    show_default=True,
    help="Alpine's base URL [env ALPINE_URL].",
)
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"File holding your subscriber token (else env {TOKEN_ENV}).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON-lines file of the events held; also where a restart resumes from.",
)
@click.option("--once", is_flag=True, help="Catch up from the pages, then exit.")
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    help="Follow this long, then exit (default: until interrupted).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only the final summary.")
@click.option(
    "--verify",
    is_flag=True,
    help="Check every event's entry in Alpine's signed record before writing it.",
)
@click.option(
    "--keys",
    "keys_from",
    help="Alpine's public keys for --verify: a URL or a file (default: URL/api/v1/keys;"
    " pin a copy you trust).",
)
def follow(
    url: str,
    token_file: Path | None,
    out: Path,
    once: bool,
    seconds: float | None,
    quiet: bool,
    verify: bool,
    keys_from: str | None,
) -> None:
    """Follow your tier's feed into a JSON-lines file: no gap, no repeat, every signal's
    SHA-256 checked (with --verify, every event's signed record entry and its link to
    the last one held); ends with how many signals the file holds and whether it has a
    gap.

    Exit 0 when done or interrupted; 2 token refused; 3 Alpine's history changed
    (another epoch); 4 a signal failed its SHA-256 check; 5 a record entry does not
    hold (--verify); 1 anything else.
    """
    token = _token(token_file)
    holding = load(out)

    def say(line: str) -> None:
        if not quiet:
            click.echo(line, err=True)

    if holding.events:
        say(f"resuming: {holding.summary()}")
    timeout = httpx.Timeout(30.0, read=90.0)  # reads: three heartbeats' worth and more
    headers = {"Authorization": f"Bearer {token}"}
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
            keys = record_keys(client, keys_from or f"{url}{KEYS_PATH}") if verify else None
            follower = Follower(client, holding, say, record_keys=keys)
            try:
                if once:
                    follower.catch_up()
                else:
                    follower.follow(None if seconds is None else time.monotonic() + seconds)
            finally:
                follower.close()
    except _Stopped:
        pass
    except FollowError as exc:
        click.echo(f"alpine follow: {exc}", err=True)
        raise SystemExit(exc.exit_code) from exc
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    final = load(out)
    click.echo(final.summary())
    if final.gaps:
        raise SystemExit(1)


@click.group()
def feed() -> None:
    """The feed's head position and epoch."""


def _engine_url() -> str:
    return settings_from_env().database_url


@feed.command(name="show")
def feed_show() -> None:
    """Print the feed's last position and its epoch token."""
    engine = make_engine(_engine_url())
    try:
        with engine.connect() as conn:
            seq, epoch = conn.execute(select(feed_head.c.seq, feed_head.c.epoch)).one()
    finally:
        engine.dispose()
    click.echo(f"head {seq}\nepoch token {epoch}")


@feed.command(name="new-epoch")
@click.option("--yes", is_flag=True, help="Do it (every subscriber's cursor stops working).")
def feed_new_epoch(yes: bool) -> None:
    """Start a new epoch after restoring Alpine's database from a backup.

    Subscribers' cursors of the old epoch then answer 409 and tell them to compare what
    they hold with the feed read again from the start. A pg_restore into a new database
    and a point-in-time recovery change the epoch by themselves.
    """
    if not yes:
        raise click.UsageError("this invalidates every subscriber's cursor: add --yes")
    engine = make_engine(_engine_url())
    try:
        with engine.begin() as conn:
            conn.execute(update(feed_head).values(epoch=os.urandom(16).hex()))
    finally:
        engine.dispose()
    click.echo("new epoch started; subscribers will be told to re-read the feed")


@click.command(name="verify-record")
@click.argument("recording", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--keys",
    "keys_from",
    required=True,
    help="Alpine's public keys: a URL (…/api/v1/keys) or a file (`alpine keys export`).",
)
def verify_record(recording: Path, keys_from: str) -> None:
    """Check a recording made by `alpine follow` offline against Alpine's signed record:
    every event's content matches its entry's commitment, every entry is signed by one
    of Alpine's keys, and each links to the one before through the entries the tier does
    not see. Exit 0 when the record holds; 5 naming the first entry that does not; 1
    when the file or the keys cannot be read."""
    try:
        with httpx.Client(timeout=30.0) as client:
            keys = record_keys(client, keys_from)
        check = verify_file(recording, keys)
    except FollowError as exc:
        click.echo(f"alpine verify-record: {exc}", err=True)
        raise SystemExit(exc.exit_code) from exc
    if not check.checked:
        click.echo(f"alpine verify-record: {recording} holds no event", err=True)
        raise SystemExit(1)
    click.echo(
        f"{recording}: {check.checked} entries hold, up to position {check.last_seq}"
        f" (hash {check.last_hash})"
    )
