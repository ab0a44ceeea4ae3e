"""Per-key token buckets: `rate` requests per second, bursts up to `burst`.

`RateLimiter` keeps them in this process (the SQLite demo runs one process);
alpine/rate_store.py keeps them in PostgreSQL, shared by every worker and host.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Limiter(Protocol):
    """What the ingest guard and the subscriber API ask of a rate limiter."""

    @property
    def enabled(self) -> bool: ...

    def retry_after(self, key: str) -> int | None: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Answers "may this key make a request now?", else how long to wait."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = max(burst, 1.0)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def retry_after(self, key: str) -> int | None:
        """None if a request is allowed now (and takes a token); else whole seconds to wait."""
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(self._burst, now))
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / self._rate))
