"""UTC time in the one text form Argo stores: fixed width, so it sorts as text."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_TEXT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def utc_now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    """Format an aware datetime as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: give a timezone (UTC)")
    return moment.astimezone(UTC).strftime(_TEXT_FORMAT)


def from_text(text: str) -> datetime:
    """Parse an ISO-8601 time with a timezone (`Z` or an offset) into aware UTC."""
    moment = datetime.fromisoformat(text.strip().replace("z", "Z"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone; add 'Z' for UTC")
    return moment.astimezone(UTC)


def parse_since(text: str, now: datetime) -> datetime:
    """Parse `2h`, `7d`, `30m` (that long before `now`) or an aware ISO-8601 time."""
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(**{_UNITS[unit]: amount})
    return from_text(text)
