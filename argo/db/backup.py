"""`argo backup`: a consistent copy of the live database (SQLite online backup API),
kept on disk or in S3 (`s3://bucket/prefix`, needs the `aws` extra: boto3).

An S3 backup is `prefix/signals-YYYYMMDDTHHMMSSZ.db` (the UTC time of the backup) with
its SHA-256 in the object's metadata (`x-amz-meta-sha256`); it is uploaded only after
its `integrity_check` said ok, and checked (size, digest) after the upload.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argo.errors import ArgoError, ConfigError

Progress = Callable[[int], None]
_NAME = re.compile(r"signals-(\d{8}T\d{6}Z)\.db")
_STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(ArgoError):
    """The backup could not be made, stored, listed or fetched."""


def online_backup(
    source: Path,
    target: Path,
    pages_per_step: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, str]:
    """Copy `source` to `target` while writers go on; (pages copied, integrity_check verdict).

    `progress(copied, total)` is called after each step of `pages_per_step` pages.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    copied = 0

    def step(status: int, remaining: int, total: int) -> None:
        nonlocal copied
        copied = total - remaining
        if progress is not None:
            progress(copied, total)

    with sqlite3.connect(source, timeout=30) as src, sqlite3.connect(target) as dst:
        src.backup(dst, pages=pages_per_step, progress=step)
    src.close()
    dst.close()
    return copied, integrity_check(target)


def integrity_check(path: Path) -> str:
    """SQLite's `PRAGMA integrity_check` verdict on `path` ("ok" when sound)."""
    with sqlite3.connect(path) as conn:
        verdict = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    conn.close()
    return verdict


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class S3Location:
    """`s3://bucket/prefix` (the prefix without slashes at either end, maybe empty)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """The location of `s3://bucket[/prefix]`; ConfigError for anything else."""
        match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?", url.strip())
        if match is None:
            raise ConfigError(f"{url!r} is not s3://bucket/prefix")
        return cls(match[1], (match[2] or "").strip("/"))

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def backup_name(moment: datetime) -> str:
    """`signals-20261202T113000Z.db` for an aware `moment`."""
    return f"signals-{moment.astimezone(UTC).strftime(_STAMP)}.db"


@dataclass(frozen=True, slots=True)
class StoredBackup:
    """One backup in S3: its key, size in bytes and the time it was taken."""

    key: str
    size: int
    taken_at: datetime


def s3_client(environ: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client (region and credentials from boto3's usual chain).

    `ARGO_ALPINE_AWS_ENDPOINT` or `AWS_ENDPOINT_URL` points it elsewhere (tests: moto).
    ConfigError when boto3 is not installed.
    """
    env = os.environ if environ is None else environ
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:
        raise ConfigError(
            "argo backup to S3 needs the aws extra: pip install 'argo-alpine[aws]'"
        ) from exc
    return boto3.client(
        "s3",
        endpoint_url=env.get("ARGO_ALPINE_AWS_ENDPOINT") or env.get("AWS_ENDPOINT_URL") or None,
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        config=Config(
            connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}
        ),
    )


def _aws_errors() -> tuple[type[Exception], ...]:
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, Boto3Error)


def _failed(what: str, exc: Exception) -> BackupError:
    return BackupError(f"{what} failed: {exc}")


def upload(
    client: Any,
    path: Path,
    location: S3Location,
    moment: datetime,
    progress: Progress | None = None,
) -> tuple[str, str]:
    """Upload the backup file `path` as taken at `moment`; (key, sha256). Checked after."""
    key = location.key(backup_name(moment))
    digest = sha256_of(path)
    size = path.stat().st_size
    try:
        if _exists(client, location.bucket, key):
            raise BackupError(f"{location.url(key)} exists already")
        client.upload_file(
            str(path),
            location.bucket,
            key,
            ExtraArgs={
                "Metadata": {"sha256": digest, "integrity-check": "ok"},
                "ContentType": "application/vnd.sqlite3",
            },
            Callback=progress,
        )
        head = client.head_object(Bucket=location.bucket, Key=key)
    except _aws_errors() as exc:
        raise _failed(f"upload to {location.url(key)}", exc) from exc
    if head.get("ContentLength") != size or head.get("Metadata", {}).get("sha256") != digest:
        raise BackupError(f"{location.url(key)} does not match the backup after the upload")
    return key, digest


def _exists(client: Any, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def list_backups(client: Any, location: S3Location) -> list[StoredBackup]:
    """The backups directly under the location's prefix, newest first."""
    prefix = location.key("")
    found: list[StoredBackup] = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=prefix
        )
        for page in pages:
            for item in page.get("Contents", []):
                match = _NAME.fullmatch(item["Key"][len(prefix) :])
                if match:
                    taken = datetime.strptime(match[1], _STAMP).replace(tzinfo=UTC)
                    found.append(StoredBackup(item["Key"], int(item["Size"]), taken))
    except _aws_errors() as exc:
        raise _failed(f"listing {location.url(prefix)}", exc) from exc
    return sorted(found, key=lambda backup: backup.taken_at, reverse=True)


def download(
    client: Any, location: S3Location, key: str, target: Path, progress: Progress | None = None
) -> str:
    """Fetch `key` to `target` and check its SHA-256 and integrity; the digest."""
    try:
        expected = client.head_object(Bucket=location.bucket, Key=key).get("Metadata", {})
        client.download_file(location.bucket, key, str(target), Callback=progress)
    except _aws_errors() as exc:
        raise _failed(f"download of {location.url(key)}", exc) from exc
    digest = sha256_of(target)
    if expected.get("sha256") not in (None, digest):
        raise BackupError(f"{location.url(key)}: sha256 {digest} is not the recorded one")
    verdict = integrity_check(target)
    if verdict != "ok":
        raise BackupError(f"{location.url(key)}: integrity_check says {verdict}")
    return digest
