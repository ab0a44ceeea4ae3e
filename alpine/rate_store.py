"""Token buckets in PostgreSQL, shared by every Alpine process on the database.

One statement per request refills the bucket on the database's clock and takes a
token if there is one, so `rate` per second means the same with one worker, N
workers or several hosts (schema/alpine/postgresql/0005_rate_buckets.sql).
"""

from __future__ import annotations

import math

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from alpine.errors import StoreUnavailableError
from alpine.ratelimit import Limiter, RateLimiter

_TAKE = text(
    """
    INSERT INTO alpine_rate_buckets AS b (bucket, tokens, updated_at, granted)
    VALUES (:bucket, :burst - 1, extract(epoch FROM clock_timestamp()), true)
    ON CONFLICT (bucket) DO UPDATE SET
        tokens = least(:burst, b.tokens + greatest(0, excluded.updated_at - b.updated_at) * :rate)
            - CASE WHEN least(:burst, b.tokens
                   + greatest(0, excluded.updated_at - b.updated_at) * :rate) >= 1
              THEN 1 ELSE 0 END,
        granted = least(:burst, b.tokens
            + greatest(0, excluded.updated_at - b.updated_at) * :rate) >= 1,
        updated_at = greatest(b.updated_at, excluded.updated_at)
    RETURNING granted, tokens
    """
)


class SharedRateLimiter:
    """Answers "may this key make a request now?" for all processes at once."""

    def __init__(self, engine: Engine, rate: float, burst: float) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._rate = rate
        self._burst = max(burst, 1.0)

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def retry_after(self, key: str) -> int | None:
        """None if a request is allowed now (and takes a token); else whole seconds to wait."""
        if not self.enabled:
            return None
        try:
            with self._engine.connect() as conn:
                granted, tokens = conn.execute(
                    _TAKE, {"bucket": key, "burst": self._burst, "rate": self._rate}
                ).one()
        except DBAPIError as exc:
            raise StoreUnavailableError(str(exc.orig)) from exc
        if granted:
            return None
        return max(1, math.ceil((1.0 - float(tokens)) / self._rate))


def make_limiter(engine: Engine, rate: float, burst: float) -> Limiter:
    """Shared buckets on PostgreSQL; in-process ones for the single-process SQLite demo."""
    if engine.dialect.name == "postgresql":
        return SharedRateLimiter(engine, rate, burst)
    return RateLimiter(rate, burst)
