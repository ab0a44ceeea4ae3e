"""Time parsing: aware UTC only; --since accepts durations and ISO-8601."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from argo.timeutil import from_text, parse_since, to_text, utc_now


@freeze_time("2026-11-22 12:00:00")
@pytest.mark.parametrize(
    ("text", "delta"),
    [("2h", timedelta(hours=2)), ("7d", timedelta(days=7)), ("30m", timedelta(minutes=30))],
)
def test_relative_since(text: str, delta: timedelta) -> None:
    assert parse_since(text, utc_now()) == datetime(2026, 11, 22, 12, tzinfo=UTC) - delta


def test_iso_since_with_offset_becomes_utc() -> None:
    moment = parse_since("2025-11-13T09:00:00-05:00", datetime.now(UTC))
    assert moment == datetime(2025, 11, 13, 14, tzinfo=UTC)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        from_text("2025-11-13T09:00:00")
    with pytest.raises(ValueError, match="naive"):
        to_text(datetime(2025, 11, 13))


def test_text_form_is_fixed_width_and_sorts() -> None:
    early = to_text(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    late = to_text(datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC))
    assert early == "2026-01-02T03:04:05.000000Z"
    assert len(early) == len(late) and early < late
    assert from_text(late) == datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC)
