"""Argo's database on PostgreSQL: recognising `ARGO_DB` URLs, connecting, migrations, and the
LISTEN/NOTIFY doorbell.

`ARGO_DB` is a path (SQLite, the embedded default) or a `postgresql+psycopg://…` URL. Settings
arrive as `Path` objects, which fold the URL's `//` into `/`; `database_url` restores it.
Migrations are the files of schema/argo-postgresql/, each applied once in its own transaction
under an advisory lock and recorded in `argo_schema_migrations`, so `argo db upgrade` is safe
to run again and from several hosts at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from argo.db.seam import Params, Row
from argo.errors import OutboxMissingError, SchemaError, StoreError
from argo.process.redact import redact_dsn, scrubbed

PgConnection = psycopg.Connection[dict[str, Any]]
CHANNEL = "argo_outbox"
"""NOTIFY channel Argo's writers signal after each commit that adds outbox rows."""

_URL = re.compile(r"^(postgres(?:ql)?(?:\+psycopg)?):/+(.*)$")
_MIGRATION_LOCK = 0x41524730  # "ARG0": one `argo db upgrade` at a time
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
_ROOTS = (_PACKAGE_DIR.parent / "schema", _PACKAGE_DIR / "_schema")


def database_url(location: Path | str) -> str | None:
    """The libpq URL when `location` (ARGO_DB, --db) names a PostgreSQL database, else None."""
    match = _URL.match(str(location))
    return f"postgresql://{match.group(2)}" if match else None


def is_postgres(location: Path | str) -> bool:
    return database_url(location) is not None


def connect(url: str, *, application_name: str = "argo") -> PgConnection:
    """An autocommit connection (no transaction stays open between statements); rows as dicts.

    Raises StoreError naming ARGO_DB when the server cannot be reached.
    """
    try:
        return psycopg.connect(
            url, autocommit=True, row_factory=dict_row, application_name=application_name
        )
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"cannot connect to ARGO_DB={redact_dsn(url)}: {scrubbed(reason, url)}"
        ) from exc


def migrations() -> dict[int, tuple[str, str]]:
    """schema/argo-postgresql/NNNN_*.sql: version → (file name, text)."""
    for root in _ROOTS:
        folder = root / "argo-postgresql"
        if folder.is_dir():
            return {
                int(path.name.split("_", 1)[0]): (path.name, path.read_text(encoding="utf-8"))
                for path in sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql"))
            }
    raise FileNotFoundError("schema/argo-postgresql is missing from this installation")


@dataclass(frozen=True, slots=True)
class Upgrade:
    applied: tuple[str, ...]
    version: int


def upgrade(conn: PgConnection) -> Upgrade:
    """Apply every migration not yet recorded; what was applied and the version reached."""
    known = migrations()
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS argo_schema_migrations (version integer PRIMARY KEY,"
            " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in conn.execute("SELECT version FROM argo_schema_migrations")}
        newer = done - set(known)
        if newer:
            raise SchemaError(f"database schema version {max(newer)} is newer than this release")
        for version, (name, script) in sorted(known.items()):
            if version in done:
                continue
            conn.execute(script.encode())
            conn.execute(
                "INSERT INTO argo_schema_migrations (version, name) VALUES (%s, %s)",
                (version, name),
            )
            applied.append(name)
    return Upgrade(tuple(applied), max(known, default=0))


def current_version(conn: PgConnection) -> int:
    """The latest applied migration, 0 when `argo db upgrade` never ran here."""
    if not _has_table(conn, "argo_schema_migrations"):
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) AS v FROM argo_schema_migrations")
    found = row.fetchone()
    return int(found["v"]) if found else 0


def require_schema(conn: PgConnection, url: str) -> None:
    """Raise OutboxMissingError (exit 2, naming ARGO_DB) unless the schema is current.

    Nobody but `argo db upgrade` changes a PostgreSQL schema: several processes on several
    hosts share it, so an upgrade is an operator's step, not a side effect of starting one.
    """
    version, latest = current_version(conn), max(migrations(), default=0)
    if version == 0 or not _has_table(conn, "sync_outbox"):
        raise OutboxMissingError(
            f"ARGO_DB={redact_dsn(url)} holds no Argo outbox (run `argo db upgrade` first)"
        )
    if version < latest:
        raise OutboxMissingError(
            f"ARGO_DB={redact_dsn(url)} is at schema {version}, this release needs {latest}"
            " (run `argo db upgrade`)"
        )
    if version > latest:
        raise SchemaError(f"database schema version {version} is newer than this release")


def _has_table(conn: PgConnection, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AS found", (name,)).fetchone()
    return bool(row and row["found"])


class PgDoorbell:
    """LISTEN on Argo's channel: a hint that rows were committed (polling stays the floor)."""

    def __init__(self, conn: PgConnection) -> None:
        self._conn = conn

    @classmethod
    def listen(cls, url: str) -> PgDoorbell:
        conn = connect(url, application_name="argo-relay-listen")
        conn.execute(f"LISTEN {CHANNEL}")
        return cls(conn)

    def wait(self, timeout: float) -> bool:
        """Whether a notification came within `timeout` seconds."""
        try:
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                return True
        except psycopg.Error:
            return False
        return False

    def close(self) -> None:
        self._conn.close()


class PgDb:
    """`argo.db.seam.Db` over one autocommit PostgreSQL connection (rows as dicts)."""

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[Row]:
        return self.conn.execute(sql.encode(), params).fetchall()

    def one(self, sql: str, params: Params = ()) -> Row | None:
        return self.conn.execute(sql.encode(), params).fetchone()

    def run(self, sql: str, params: Params = ()) -> int:
        return self.conn.execute(sql.encode(), params).rowcount

    def run_many(self, sql: str, params: Sequence[Params]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(sql.encode(), params)

    def transaction(self) -> AbstractContextManager[object]:
        return self.conn.transaction()

    def time(self, value: datetime) -> object:
        return value

    def close(self) -> None:
        self.conn.close()
