"""The retry policy is a pure function of attempts and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relay.retry import RetryPolicy

POLICY = RetryPolicy(base_seconds=2.0, cap_seconds=60.0, max_attempts=5, max_age=timedelta(hours=6))
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def no_jitter(ceiling: float) -> float:
    return ceiling


def half_jitter(ceiling: float) -> float:
    return ceiling / 2


@pytest.mark.parametrize(
    ("attempts", "ceiling"),
    [
        (0, 2.0),
        (1, 2.0),
        (2, 4.0),
        (3, 8.0),
        (4, 16.0),
        (5, 32.0),
        (6, 60.0),
        (50, 60.0),
        (10_000, 60.0),
    ],
)
def test_ceiling_doubles_then_caps(attempts: int, ceiling: float) -> None:
    assert POLICY.ceiling_seconds(attempts) == ceiling


@pytest.mark.parametrize(
    ("attempts", "jitter", "expected_delay"),
    [(1, no_jitter, 2.0), (3, no_jitter, 8.0), (3, half_jitter, 4.0), (9, half_jitter, 30.0)],
)
def test_next_attempt_at(attempts: int, jitter: object, expected_delay: float) -> None:
    assert POLICY.next_attempt_at(attempts, NOW, jitter) == NOW + timedelta(seconds=expected_delay)  # type: ignore[arg-type]


def test_full_jitter_stays_within_the_ceiling() -> None:
    delays = [POLICY.delay_seconds(4) for _ in range(500)]
    assert all(0.0 <= d <= 16.0 for d in delays)
    assert max(delays) - min(delays) > 4.0  # really jittered, not constant


@pytest.mark.parametrize(
    ("attempts", "age", "exhausted"),
    [
        (1, timedelta(seconds=1), False),
        (4, timedelta(hours=5, minutes=59), False),
        (5, timedelta(seconds=1), True),
        (1, timedelta(hours=6), True),
        (0, timedelta(days=2), True),
    ],
)
def test_exhaustion_by_attempts_or_age(attempts: int, age: timedelta, exhausted: bool) -> None:
    assert POLICY.is_exhausted(attempts, NOW - age, NOW) is exhausted


def test_defaults_are_hours_not_seconds() -> None:
    default = RetryPolicy()
    assert default.max_age >= timedelta(hours=12)
    assert default.max_attempts >= 10
