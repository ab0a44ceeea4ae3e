"""`argo backup [create] PATH | --to s3://…`, `argo backup list`, `argo backup restore`."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from argo.cli.options import db_option
from argo.db.backup import (
    S3Location,
    StoredBackup,
    download,
    list_backups,
    online_backup,
    s3_client,
    upload,
)
from argo.db.postgres import is_postgres
from argo.errors import ConfigError
from argo.timeutil import utc_now


class _BackupGroup(click.Group):
    """`argo backup PATH` and `argo backup --to s3://…` mean `argo backup create …`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] != "--help"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_BackupGroup)
def backup() -> None:
    """Back the database up to a file or to S3; list and restore S3 backups.

    `argo backup PATH` and `argo backup --to s3://bucket/prefix` are `argo backup create`.
    """


def _location(url: str) -> tuple[S3Location, Any]:
    try:
        return S3Location.parse(url), s3_client()
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


NOT_ON_POSTGRES = (
    "`argo backup` copies Argo's SQLite file, and ARGO_DB (--db) is a PostgreSQL URL:"
    " back that database up with PostgreSQL's own tools (pg_dump, or base backups with"
    " WAL archiving; see docs/operations.md)"
)


def _sqlite_file(db_path: Path) -> Path:
    """`db_path`, or a usage error when ARGO_DB is a URL or there is no such file."""
    if is_postgres(db_path):
        raise click.UsageError(NOT_ON_POSTGRES)
    if not db_path.exists():
        raise click.UsageError(f"no database at {db_path} (set --db or ARGO_DB)")
    return db_path


class _Bar:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._lock = threading.Lock()
        self._done = 0

    def add(self, amount: int) -> None:
        if self._bar is not None:
            with self._lock:
                self._bar.update(amount)

    def reach(self, done: int, total: int) -> None:
        if self._bar is not None:
            with self._lock:
                self._bar.length = total
                self._bar.update(done - self._done)
                self._done = done


@contextmanager
def _progress(label: str, length: int) -> Iterator[_Bar]:
    if not sys.stderr.isatty():
        yield _Bar(None)
        return
    with click.progressbar(length=max(length, 1), label=label, file=sys.stderr) as bar:
        yield _Bar(bar)


@backup.command(name="create")
@click.argument("target", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "to", metavar="s3://BUCKET/PREFIX", help="Upload the backup to S3.")
@db_option
def create(target: Path | None, to: str | None, db_path: Path) -> None:
    """Copy the database with SQLite's online backup, integrity-check it, and keep it
    as TARGET, or upload it as PREFIX/signals-<UTC time>.db (with its sha256)."""
    source = _sqlite_file(db_path)
    if (target is None) == (to is None):
        raise click.UsageError("give a TARGET file or --to s3://bucket/prefix")
    if target is not None:
        _to_file(source, target)
    elif to is not None:
        _to_s3(source, to)


def _to_file(source: Path, target: Path) -> None:
    if target.exists():
        raise click.UsageError(f"{target} exists; choose a new file")
    pages, verdict = online_backup(source, target)
    if verdict != "ok":
        click.echo(f"backup written but integrity_check says: {verdict}", err=True)
        sys.exit(1)
    click.echo(f"backed up {source} to {target} ({pages} pages, integrity ok)")


def _to_s3(source: Path, url: str) -> None:
    location, client = _location(url)
    moment = utc_now()
    with tempfile.TemporaryDirectory(prefix=".argo-backup-", dir=source.parent) as work:
        copy = Path(work) / "signals.db"
        with _progress("backing up", _pages(source)) as bar:
            _, verdict = online_backup(source, copy, progress=bar.reach)
        if verdict != "ok":
            click.echo(f"not uploaded: integrity_check says: {verdict}", err=True)
            sys.exit(1)
        size = copy.stat().st_size
        with _progress("uploading", size) as bar:
            key, digest = upload(client, copy, location, moment, progress=bar.add)
    click.echo(
        f"backed up {source} to {location.url(key)} ({_size(size)}, {size} bytes,"
        f" sha256 {digest[:12]}…, integrity ok)"
    )


def _pages(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    conn.close()
    return pages


def _size(size: float) -> str:
    """1536 → "1.5 KiB"."""
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if size < 1024 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


location_option = click.option(
    "--to", "--from", "url", required=True, metavar="s3://BUCKET/PREFIX", help="Where they are."
)


@backup.command(name="list")
@location_option
def list_command(url: str) -> None:
    """The backups under s3://BUCKET/PREFIX, newest first: time, size, key."""
    location, client = _location(url)
    backups = list_backups(client, location)
    if not backups:
        click.echo(f"no backups under {location.url(location.key(''))}", err=True)
    for item in backups:
        taken = item.taken_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        click.echo(f"{taken}  {_size(item.size):>10}  {location.url(item.key)}")


@backup.command(name="restore")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@location_option
@click.option("--key", help="The backup's key or file name [default: the newest].")
def restore(target: Path, url: str, key: str | None) -> None:
    """Download a backup to TARGET, checking its sha256 and integrity (see
    docs/operations.md for putting it in place)."""
    if target.exists():
        raise click.UsageError(f"{target} exists; choose a new file")
    location, client = _location(url)
    chosen = _choose(list_backups(client, location), location, key)
    partial = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _progress("downloading", chosen.size) as bar:
        download(client, location, chosen.key, partial, progress=bar.add)
    partial.replace(target)
    click.echo(
        f"restored {location.url(chosen.key)} to {target} ({_size(chosen.size)},"
        " sha256 ok, integrity ok); stop argo and the relay before putting it in place"
    )


def _choose(backups: list[StoredBackup], location: S3Location, key: str | None) -> StoredBackup:
    if not backups:
        raise click.UsageError(f"no backups under {location.url(location.key(''))}")
    if key is None:
        return backups[0]
    for item in backups:
        if key in (item.key, item.key.rsplit("/", 1)[-1]):
            return item
    raise click.UsageError(f"no backup {key!r} under {location.url(location.key(''))}")
