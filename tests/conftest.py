"""Fixtures: a clean environment, and a throwaway PostgreSQL database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from alpine.migrations import upgrade
from alpine.store import make_engine
from tests.kit.pgdb import create_database, drop_database, url_for

_STRIPPED_PREFIXES = ("ARGO_", "RELAY_", "ALPINE_", "OTEL_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ARGO_*, RELAY_*, ALPINE_* or OTEL_* setting leaks into a test or its children
    (tracing is on only where a test turns it on)."""
    for name in list(os.environ):
        if name.startswith(_STRIPPED_PREFIXES) and name != "ALPINE_TEST_DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database with Alpine's migrations applied, cloned by each test."""
    name = create_database("argo_alpine_tpl")
    engine = make_engine(url_for(name))
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    yield name
    drop_database(name)


def _database_from(template: str | None) -> Iterator[str]:
    name = create_database("argo_alpine_t", template)
    yield url_for(name)
    drop_database(name)


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
    yield from _database_from(None)
