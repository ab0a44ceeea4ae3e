"""`argo backup --to s3://…`, `list` and `restore` against moto's real S3 server on loopback."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from argo.cli.main import main
from argo.db.backup import BackupError, S3Location, online_backup, s3_client, upload
from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.kit.factories import make_signals
from tests.support import cli, free_port

# moto's backends are process-wide: each test gets a bucket of its own.
BUCKET = f"argo-backups-{uuid.uuid4().hex[:8]}"
URL = f"s3://{BUCKET}/prod/argo"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's S3 on 127.0.0.1 with one bucket; the environment points boto3 at it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "ARGO_ALPINE_AWS_ENDPOINT": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    client = s3_client()
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
        server.stop()


def database(tmp_path: Path, count: int = 12) -> Path:
    db = tmp_path / "signals.db"
    store = open_signals(db)
    for signal in make_signals(count):
        store.add(signal, utc_now())
    store.close()
    return db


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM signals").fetchone()[0])


def argo(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_backup_uploads_a_checked_copy_under_a_timestamped_key(s3: Any, tmp_path: Path) -> None:
    db = database(tmp_path)
    result = argo("backup", "--to", URL, "--db", str(db))
    assert result.exit_code == 0, result.output
    (item,) = s3.list_objects_v2(Bucket=BUCKET, Prefix="prod/argo/")["Contents"]
    assert re.fullmatch(r"prod/argo/signals-\d{8}T\d{6}Z\.db", item["Key"])
    line = result.stdout.strip().splitlines()[-1]
    assert f"s3://{BUCKET}/{item['Key']}" in line and f"{item['Size']} bytes" in line
    copy = tmp_path / "copy.db"
    s3.download_file(BUCKET, item["Key"], str(copy))
    head = s3.head_object(Bucket=BUCKET, Key=item["Key"])
    assert head["Metadata"]["sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert rows(copy) == 12
    assert list(tmp_path.glob(".argo-backup-*")) == []  # the local copy is gone


def test_list_shows_the_backups_newest_first(s3: Any, tmp_path: Path) -> None:
    db = database(tmp_path)
    copy = tmp_path / "copy.db"
    online_backup(db, copy)
    location = S3Location.parse(URL)
    for day in (3, 1, 2):
        upload(s3, copy, location, datetime(2026, 11, day, 11, 30, tzinfo=UTC))
    s3.put_object(Bucket=BUCKET, Key="prod/argo/README.txt", Body=b"not a backup")
    s3.put_object(Bucket=BUCKET, Key="prod/argo/old/signals-20200101T000000Z.db", Body=b"x")
    result = argo("backup", "list", "--to", URL)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()  # (stderr has moto's own log lines)
    assert [line.split()[0] for line in lines] == [
        "2026-11-03T11:30:00Z",
        "2026-11-02T11:30:00Z",
        "2026-11-01T11:30:00Z",
    ]
    assert lines[0].endswith(f"{URL}/signals-20261103T113000Z.db")
    assert f"{copy.stat().st_size / 1024:.1f} KiB" in lines[0]
    with pytest.raises(BackupError, match="exists already"):
        upload(s3, copy, location, datetime(2026, 11, 3, 11, 30, tzinfo=UTC))


def test_restore_fetches_the_newest_or_a_named_backup(s3: Any, tmp_path: Path) -> None:
    db = database(tmp_path, 5)
    assert argo("backup", "--to", URL, "--db", str(db)).exit_code == 0
    older = tmp_path / "older.db"
    online_backup(database(tmp_path / "old", 2), older)
    upload(s3, older, S3Location.parse(URL), datetime(2020, 1, 1, tzinfo=UTC))
    target = tmp_path / "restore" / "signals.db"
    result = argo("backup", "restore", str(target), "--from", URL)
    assert result.exit_code == 0, result.output
    assert rows(target) == 5 and "integrity ok" in result.output
    named = tmp_path / "named.db"
    result = argo(
        "backup", "restore", str(named), "--from", URL, "--key", "signals-20200101T000000Z.db"
    )
    assert result.exit_code == 0, result.output
    assert rows(named) == 2
    assert argo("backup", "restore", str(named), "--from", URL).exit_code == 2  # exists


def test_restore_refuses_a_backup_whose_digest_does_not_match(s3: Any, tmp_path: Path) -> None:
    assert argo("backup", "--to", URL, "--db", str(database(tmp_path))).exit_code == 0
    (item,) = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    s3.put_object(
        Bucket=BUCKET,
        Key=item["Key"],
        Body=b"SQLite format 3\0 but not really",
        Metadata={"sha256": "0" * 64},
    )
    result = argo("backup", "restore", str(tmp_path / "r.db"), "--from", URL)
    assert result.exit_code == 1 and isinstance(result.exception, BackupError)
    assert "is not the recorded one" in str(result.exception)
    assert not (tmp_path / "r.db").exists()


def test_a_missing_bucket_is_one_line_and_exit_1(s3: Any, tmp_path: Path) -> None:
    import os

    env = {
        name: os.environ[name]
        for name in (
            "ARGO_ALPINE_AWS_ENDPOINT",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
        )
    }
    env["ARGO_DB"] = str(database(tmp_path))
    result = cli("argo", "backup", "--to", "s3://no-such-bucket/x", env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    line = lines[0]
    assert (
        line.startswith("argo: upload to s3://no-such-bucket/x/signals-") and "NoSuchBucket" in line
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["backup", "--to", "s3:/bucket"], "is not s3://bucket/prefix"),
        (["backup", "--to", URL, "somewhere.db"], "give a TARGET file or --to"),
        (["backup"], "give a TARGET file or --to"),
        (["backup", "list"], "Missing option '--to'"),
    ],
)
def test_usage_errors_are_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    result = (
        argo(*args, "--db", str(database(tmp_path))) if args != ["backup", "list"] else argo(*args)
    )
    assert result.exit_code == 2 and words in result.output, result.output


def test_a_database_url_is_exit_2_naming_argo_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARGO_DB", "postgresql+psycopg://argo@db.internal/argo")
    result = argo("backup", "--to", URL)
    assert result.exit_code == 2 and "ARGO_DB" in result.output and "URL" in result.output


def test_without_boto3_it_is_exit_2_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError
    result = argo("backup", "--to", URL, "--db", str(database(tmp_path)))
    assert result.exit_code == 2 and "pip install 'argo-alpine[aws]'" in result.output
