"""Retry policy as data plus pure functions: when to try a row again, when to give up."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

Jitter = Callable[[float], float]


def full_jitter(ceiling: float) -> float:
    """AWS "full jitter": uniform in [0, ceiling]."""
    return random.uniform(0.0, ceiling)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, capped; and when a row becomes a dead letter.

    The defaults follow the Svix range: retries spread over a day before giving up.
    """

    base_seconds: float = 2.0
    cap_seconds: float = 3600.0
    max_attempts: int = 20
    max_age: timedelta = timedelta(hours=24)

    def ceiling_seconds(self, attempts: int) -> float:
        """The un-jittered delay after `attempts` failures (attempts >= 1)."""
        exponent = max(attempts - 1, 0)
        if exponent > 60:
            return self.cap_seconds
        return float(min(self.cap_seconds, self.base_seconds * (2.0**exponent)))

    def delay_seconds(self, attempts: int, jitter: Jitter = full_jitter) -> float:
        """The jittered delay before the next try after `attempts` failures."""
        return jitter(self.ceiling_seconds(attempts))

    def next_attempt_at(
        self, attempts: int, now: datetime, jitter: Jitter = full_jitter
    ) -> datetime:
        """When a row that has failed `attempts` times is due again."""
        return now + timedelta(seconds=self.delay_seconds(attempts, jitter))

    def is_exhausted(self, attempts: int, first_failed_at: datetime, now: datetime) -> bool:
        """True once a row has failed too often, or has kept failing on its own for longer
        than `max_age` since its first failure (never counted from its creation, so an
        outage, which charges nothing, never ages a row)."""
        return attempts >= self.max_attempts or now - first_failed_at >= self.max_age
