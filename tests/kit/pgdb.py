"""Throwaway PostgreSQL databases for tests and benchmarks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
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


@contextmanager
def argo_database() -> Iterator[str]:
    """A throwaway database with Argo's PostgreSQL schema (`argo db upgrade`); its
    `ARGO_DB` URL. Dropped afterwards."""
    from argo.db.postgres import connect, upgrade

    name = create_database("argo_outbox_t")
    url = url_for(name)
    try:
        with connect(conninfo(url)) as conn:
            upgrade(conn)
        yield url
    finally:
        drop_database(name)


def argo_rows(url: str, sql: str = "SELECT * FROM sync_outbox ORDER BY id") -> list[dict[str, Any]]:
    """Rows of Argo's PostgreSQL database at `url`, as dicts."""
    with psycopg.connect(conninfo(url), row_factory=dict_row) as conn:
        return list(conn.execute(sql.encode()).fetchall())
