"""One connection seen the same way on SQLite and PostgreSQL, so an algorithm over the
database is written once and the dialects differ only in their query text.

- Parameters are the dialect's own style (`?`/`:name` on SQLite, `%s`/`%(name)s` on
  PostgreSQL), positional or named; a list parameter is a JSON array on SQLite (read back
  with `json_each`) and an array on PostgreSQL (`= ANY(...)`).
- Rows come back as dicts; `time` turns a datetime into what the dialect stores (SQLite:
  fixed-width UTC text; PostgreSQL: timestamptz), `as_time` reads either back.
- `transaction` is one write transaction (SQLite: `BEGIN IMMEDIATE` with argo's own lock
  retry; PostgreSQL: a transaction block on the autocommit connection).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from argo.timeutil import from_text

Params = Sequence[Any] | Mapping[str, Any]
Row = dict[str, Any]


class Db(Protocol):
    def rows(self, sql: str, params: Params = ()) -> list[Row]: ...

    def one(self, sql: str, params: Params = ()) -> Row | None: ...

    def run(self, sql: str, params: Params = ()) -> int:
        """Execute a write; the number of rows it touched."""
        ...

    def run_many(self, sql: str, params: Sequence[Params]) -> None:
        """Execute a write once for each set of parameters (one round of the driver's
        batching, not one statement's round trip each)."""
        ...

    def transaction(self) -> AbstractContextManager[object]: ...

    def time(self, value: datetime) -> object: ...

    def close(self) -> None: ...


def as_time(value: str | datetime) -> datetime:
    """A stored time as an aware datetime (SQLite keeps text, PostgreSQL timestamptz)."""
    return value if isinstance(value, datetime) else from_text(value)


def as_optional_time(value: str | datetime | None) -> datetime | None:
    return None if value is None or value == "" else as_time(value)
