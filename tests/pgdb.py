"""Throwaway PostgreSQL databases for tests and benchmarks."""

from __future__ import annotations

import os
import uuid

import psycopg
from sqlalchemy.engine import make_url

PG_URL = os.environ.get(
    "ALPINE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def url_for(database: str) -> str:
    """The SQLAlchemy URL of `database` on the test server."""
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def conninfo(sqlalchemy_url: str) -> str:
    """A psycopg connection string for a SQLAlchemy URL."""
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(conninfo(PG_URL), autocommit=True)


def create_database(prefix: str, template: str | None = None) -> str:
    """Create a uniquely named database (optionally from a template); return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"{clause}')
    return name


def drop_database(name: str) -> None:
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_signals(sqlalchemy_url: str) -> int:
    """Rows in Alpine's `signals` table of that database."""
    with psycopg.connect(conninfo(sqlalchemy_url)) as conn:
        row = conn.execute("SELECT count(*) FROM signals").fetchone()
    assert row is not None
    return int(row[0])
