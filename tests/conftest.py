"""Fixtures: a clean environment, and a throwaway PostgreSQL database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from alpine.migrations import upgrade
from alpine.store import make_engine

PG_URL = os.environ.get(
    "ALPINE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
_STRIPPED_PREFIXES = ("ARGO_", "RELAY_", "ALPINE_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ARGO_*, RELAY_* or ALPINE_* setting leaks into a test or its children."""
    for name in list(os.environ):
        if name.startswith(_STRIPPED_PREFIXES):
            monkeypatch.delenv(name)


def _url_for(database: str) -> str:
    return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    conninfo = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    return psycopg.connect(conninfo, autocommit=True)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database with Alpine's migrations applied, cloned by each test."""
    name = f"argo_alpine_tpl_{os.getpid()}"
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_url_for(name))
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    yield name
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_from(template: str) -> Iterator[str]:
    name = f"argo_alpine_t_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _url_for(name)
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh database made from the template; dropped afterwards."""
    yield from _database_from(pg_template)


@pytest.fixture(scope="module")
def module_pg_url(pg_template: str) -> Iterator[str]:
    """Like pg_url, shared by one test module (for tables of requests that store nothing)."""
    yield from _database_from(pg_template)


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    """A fresh, empty database (no migrations applied); dropped afterwards."""
    name = f"argo_alpine_e_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _url_for(name)
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
