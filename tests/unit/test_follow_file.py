"""`alpine follow`'s file is its cursor: a torn last line is cut off, gaps are named,
a signal that does not match its SHA-256 is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alpine.follow import CorruptSignal, check_signal, load
from alpine.positions import Position
from tests.support import signal_payload


def item(seq: int, prev: int, kind: str = "signal") -> dict[str, Any]:
    payload = signal_payload(timestamp=f"2026-12-01T00:00:00.{seq:06d}Z")
    body = {k: v for k, v in payload.items() if k != "sha256"}
    body["verification_hash"] = payload["sha256"]
    return {
        "event": kind,
        **body,
        "seq": seq,
        "prev_seq": prev,
        "cursor": Position("e", seq).cursor,
        "epoch": "e",
    }


def write(path: Path, items: list[dict[str, Any]], tail: str = "") -> None:
    path.write_text("".join(json.dumps(i) + "\n" for i in items) + tail)


def test_a_torn_last_line_is_cut_off_and_the_rest_resumes(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    write(path, [item(1, 0), item(3, 1)], tail='{"event": "sig')
    held = load(path)
    assert held.events == 2 and held.last_seq == 3 and held.cursor == Position("e", 3).cursor
    assert path.read_text().endswith("\n") and path.read_text().count("\n") == 2
    assert "2 signals" in held.summary() and "no gap" in held.summary()


def test_a_gap_is_named(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    write(path, [item(1, 0), item(5, 4)])
    held = load(path)
    assert held.gaps == [(1, 4)] and "1 gap" in held.summary()


def test_a_signal_that_does_not_match_its_hash_is_refused() -> None:
    good = item(1, 0)
    check_signal(good)
    with pytest.raises(CorruptSignal, match="does not match its SHA-256"):
        check_signal({**good, "entry_price": good["entry_price"] + 0.01})
    check_signal({**item(2, 1, "outcome"), "entry_price": 1.0})  # outcomes carry no hash
