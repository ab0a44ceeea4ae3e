"""Argo's signals: the store that writes each signal with its outbox event, its reads.

- `port`: the face, `SignalStore` (a Protocol).
- `store` (SQLite) and `pg_store` (PostgreSQL): sibling implementations; `writes` and
  `reads` hold what they share, written once over per-dialect SQL (`queries`, `pg_queries`).
- `inventory`: how far each committed signal's creation got (`relay verify`).
- `replay`: re-announce stored signals (`relay replay`, `relay verify --repair`).
- `open_signals`, `open_signals_readonly` (here, at the face): the store at a location.
"""

from pathlib import Path

from argo.db.postgres import database_url
from argo.signals.pg_store import PgSignalStore
from argo.signals.port import SignalStore
from argo.signals.store import SqliteSignalStore

__all__ = ["SignalStore", "open_signals", "open_signals_readonly"]


def open_signals(location: Path, *, synchronous: str = "FULL") -> SignalStore:
    """The signal store at `location`: a SQLite file (created with the schema if needed),
    or the PostgreSQL database a URL names (its schema comes from `argo db upgrade`)."""
    url = database_url(location)
    if url is not None:
        return PgSignalStore.open_url(url)
    return SqliteSignalStore.open_file(location, synchronous=synchronous)


def open_signals_readonly(location: Path) -> SignalStore:
    """Read an existing database without changing it (reports); a PostgreSQL URL opens that
    database, whose schema must be current."""
    url = database_url(location)
    if url is not None:
        return PgSignalStore.open_url(url)
    return SqliteSignalStore.open_file_readonly(location)
