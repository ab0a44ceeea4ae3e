"""The one timestamp rule of Alpine's API (schema/signal.schema.json, docs/http-api.md).

Strict RFC 3339 with an offset: `YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)`, `T` and `Z`
in either case. No week or ordinal dates, no missing offset, no leap second (Python
cannot hold one), at most microseconds (what both databases store). Normalised to
UTC, the moment must fall in years 1970..9999: both PostgreSQL and SQLite (whose
times are sortable text with a four-digit year) store that range exactly.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

RFC3339_PATTERN = (
    r"^([0-9]{4})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3])"
    r":([0-5][0-9]):([0-5][0-9])(?:\.([0-9]{1,6}))?(?:[Zz]|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))$"
)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

_SHAPE = re.compile(RFC3339_PATTERN)  # used with fullmatch: `$` alone admits a final newline
_EPOCH = datetime(1970, 1, 1)
_SPAN = LATEST.replace(tzinfo=None) - _EPOCH
_HINT = "must be RFC 3339 with an offset, such as 2025-11-13T14:30:00Z"
_RANGE = "must fall between 1970-01-01 and 9999-12-31 in UTC"


@lru_cache(maxsize=2048)
def parse_timestamp(value: str) -> datetime:
    """`value` as an aware UTC datetime; ValueError (a readable reason) otherwise.

    Memoised (datetimes are immutable): a signal's timestamp is checked by validation
    and read again as its moment, and a batch holds up to 500 of them.
    """
    match = _SHAPE.fullmatch(value) if len(value) <= 40 else None
    if match is None:
        raise ValueError(_HINT)
    year, month, day, hour, minute, second, fraction, sign, off_hours, off_minutes = match.groups()
    try:
        wall = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError as exc:  # e.g. 2026-02-30, or year 0000
        raise ValueError(f"{_HINT} (not a valid date)") from exc
    if sign is None:  # Z: the wall time is UTC, and no year above 9999 can be written
        if wall < _EPOCH:
            raise ValueError(_RANGE)
        return wall.replace(tzinfo=UTC)
    offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
    # Timedelta arithmetic cannot overflow where datetime's years 1..9999 would, so
    # 0001-01-01T00:00:00+01:00 is refused here rather than by an OverflowError.
    since_epoch = wall - _EPOCH + (offset if sign == "-" else -offset)
    if not timedelta(0) <= since_epoch <= _SPAN:
        raise ValueError(_RANGE)
    return EARLIEST + since_epoch


def format_timestamp(moment: datetime) -> str:
    """The canonical UTC text: `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
