"""`alpine db upgrade`: apply the versioned SQL files in schema/alpine/<dialect>/ once each."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from alpine.schema_files import migrations_dir, split_statements

_LOCK_ID = 0x41_4C_50_4E  # "ALPN": serialises concurrent upgrades on PostgreSQL


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    sql: str


def available(dialect: str) -> list[Migration]:
    """Every migration for `dialect`, in version order (file names sort as versions)."""
    folder = migrations_dir(dialect)
    return [
        Migration(path.stem, path.read_text(encoding="utf-8"))
        for path in sorted(folder.glob("*.sql"))
    ]


def upgrade(engine: Engine) -> list[str]:
    """Apply the missing migrations, each in its own transaction; return their versions."""
    dialect = engine.dialect.name
    applied_now: list[str] = []
    for migration in available(dialect):
        with engine.begin() as conn:
            _prepare(conn, dialect)
            done = conn.execute(
                text("SELECT 1 FROM alpine_schema_migrations WHERE version = :v"),
                {"v": migration.version},
            ).first()
            if done:
                continue
            for statement in split_statements(migration.sql):
                conn.exec_driver_sql(statement)
            conn.execute(
                text("INSERT INTO alpine_schema_migrations (version) VALUES (:v)"),
                {"v": migration.version},
            )
            applied_now.append(migration.version)
    return applied_now


def _prepare(conn: Connection, dialect: str) -> None:
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    conn.exec_driver_sql(
        "CREATE TABLE IF NOT EXISTS alpine_schema_migrations ("
        " version TEXT PRIMARY KEY,"
        " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )


def pending(engine: Engine) -> list[str]:
    """Versions not yet applied (the table may not exist yet)."""
    versions = [m.version for m in available(engine.dialect.name)]
    with engine.connect() as conn:
        has_table = engine.dialect.has_table(conn, "alpine_schema_migrations")
        if not has_table:
            return versions
        rows = conn.execute(text("SELECT version FROM alpine_schema_migrations"))
        done = {row[0] for row in rows}
    return [v for v in versions if v not in done]
