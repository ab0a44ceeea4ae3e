"""Feed cursors: opaque, round-trip, junk refused, stale ones explained."""

from __future__ import annotations

import pytest

from alpine.positions import START, CursorError, Position, parse_cursor, stale_reason


def test_a_cursor_names_its_epoch_and_position() -> None:
    position = Position("3f2a9d0e8c1b4a77", 42)
    assert parse_cursor(position.cursor, "other") == position
    assert "." not in position.cursor and "\n" not in position.cursor
    assert parse_cursor(START, "now") == Position("now", 0)


@pytest.mark.parametrize("junk", ["", "junk", "ZjEu", Position("e", 1).cursor + "x", "cDo0Mg"])
def test_junk_is_refused(junk: str) -> None:
    with pytest.raises(CursorError, match="not one this API returned"):
        parse_cursor(junk, "e")


def test_a_stale_cursor_is_explained() -> None:
    assert stale_reason(Position("e", 5), "e", 5) is None
    other = stale_reason(Position("old", 5), "new", 9)
    assert other is not None and "epoch old" in other and "after=start" in other
    ahead = stale_reason(Position("e", 10), "e", 9)
    assert ahead is not None and "rewound" in ahead
