"""Feed positions as subscribers hold them: an opaque cursor naming (epoch, seq).

`seq` is an event's place in Alpine's feed (1, 2, 3, ... in commit order); `epoch`
names the history those numbers belong to. A cursor of another epoch, or one beyond
the feed's head, means Alpine's history was restored or rewound since the cursor was
handed out: the subscriber is told so (409), never silently restarted.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

START = "start"  # `after=start`: from the first event of the current epoch
_PREFIX = "f1"


class CursorError(ValueError):
    """The cursor is not one this API returned."""


@dataclass(frozen=True, slots=True)
class Position:
    epoch: str
    seq: int

    @property
    def cursor(self) -> str:
        """The opaque text a subscriber hands back (SSE id, `after=`)."""
        raw = f"{_PREFIX}.{self.epoch}.{self.seq}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(text: str, epoch: str) -> Position:
    """The position `text` names; `start` is position 0 of `epoch`.

    Raise CursorError for text this API did not make. The epoch is not checked here.
    """
    if text == START:
        return Position(epoch, 0)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        prefix, cursor_epoch, seq = raw.split(".")
        if prefix != _PREFIX or not cursor_epoch or not seq.isdigit():
            raise ValueError(raw)
        return Position(cursor_epoch, int(seq))
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise CursorError(f"cursor {text[:40]!r} is not one this API returned") from exc


def stale_reason(position: Position, epoch: str, head: int) -> str | None:
    """Why `position` cannot be resumed on this feed (epoch `epoch`, last event `head`),
    or None when it can."""
    if position.epoch != epoch:
        return (
            f"this cursor belongs to feed epoch {position.epoch}, but Alpine's feed is now"
            f" epoch {epoch}: its history was restored or rewound since. Read the feed"
            " again from after=start and compare it with what you hold (alpine follow"
            " --resync does this); positions of the old epoch mean nothing in the new one"
        )
    if position.seq > head:
        return (
            f"this cursor is at position {position.seq}, beyond the feed's last event"
            f" ({head}): Alpine's history was rewound. Read the feed again from"
            " after=start and compare it with what you hold"
        )
    return None
