"""Opaque keyset cursors: (timestamp, id) of the last row of a page."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from alpine.timestamps import parse_timestamp


def encode_cursor(timestamp: datetime, row_id: int) -> str:
    raw = f"{timestamp.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Raise ValueError for anything encode_cursor did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, row_id = raw.rsplit("|", 1)
        return parse_timestamp(moment), int(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("cursor is not one this API returned") from exc
