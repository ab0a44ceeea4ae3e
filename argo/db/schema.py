"""Argo's SQLite schema: create it (the writers), or bring an existing one up to date.

Versions live in `PRAGMA user_version`. A new database gets schema/argo.sql whole and
the latest version; an older one gets each missing file of schema/argo-migrations/ in
order, all in one transaction. Version 1 (the first release) never set user_version,
so a database with tables and version 0 is version 1.
"""

from __future__ import annotations

import sqlite3

from argo.db.schema_files import argo_migrations, argo_sql
from argo.db.sqlite import write_transaction
from argo.errors import OutboxMissingError, SchemaError

FIRST_RELEASE = 1


def latest_version() -> int:
    """The version schema/argo.sql describes."""
    return max(argo_migrations(), default=FIRST_RELEASE)


def current_version(conn: sqlite3.Connection) -> int:
    """The schema version of an open database (0 when it has no tables yet)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version == 0 and _has_outbox(conn):
        return FIRST_RELEASE
    return version


def ensure_schema(conn: sqlite3.Connection) -> int:
    """Create the schema on a new database or upgrade an older one; the version it is at."""
    with write_transaction(conn):
        version = current_version(conn)
        if version == 0:
            for statement in statements(argo_sql()):
                conn.execute(statement)
            version = latest_version()
        else:
            version = _upgrade(conn, version)
        conn.execute(f"PRAGMA user_version = {version}")
    return version


def upgrade_existing(conn: sqlite3.Connection, what: str) -> int:
    """Upgrade a database that already holds Argo's outbox; never create one.

    Raises OutboxMissingError naming `what` (the setting) when the tables are missing.
    """
    if not _has_outbox(conn):
        raise OutboxMissingError(f"{what} holds no Argo outbox (run `argo` against it first)")
    return ensure_schema(conn)


def _upgrade(conn: sqlite3.Connection, version: int) -> int:
    latest = latest_version()
    if version > latest:
        raise SchemaError(
            f"database schema version {version} is newer than this release knows ({latest})"
        )
    for target, script in sorted(argo_migrations().items()):
        if target > version:
            for statement in statements(script):
                conn.execute(statement)
            version = target
    return version


def _has_outbox(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sync_outbox'"
    ).fetchone()
    return row is not None


def statements(script: str) -> list[str]:
    """The statements of a SQL file, comments dropped."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
