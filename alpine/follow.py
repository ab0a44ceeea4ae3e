"""A subscriber's client for Alpine's feed: `alpine follow`.

It holds what it has received in one JSON-lines file, an event a line, each with its
position (`seq`, `prev_seq`, `cursor`, `epoch`). The file is also the client's
cursor: a restart resumes after its last complete line, so a kill at any moment
repeats nothing and loses nothing (a torn last line is cut off and read again).

It catches up from pages (`GET /api/v1/signals?after=`), then follows the live stream
with Last-Event-ID. An event whose `prev_seq` is not the last position held shows a
gap: the stream is left, the gap is filled from the pages, and the stream resumed.
Every signal's SHA-256 is checked before it is written.

This module talks to Alpine over HTTP only and imports nothing of Alpine's server
(pinned by an import-linter contract): a subscriber can copy it with canonical.py.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from alpine.canonical import verification_hash
from alpine.record_check import ChainCheck, RecordBroken, RecordKeys

PAGE_LIMIT = 500
UPDATES = ("outcome", "execution")
RETRY_MIN_SECONDS = 0.25
RETRY_MAX_SECONDS = 10.0
STREAM_PATH = "/api/v1/signals/stream"
PAGES_PATH = "/api/v1/signals"


class FollowError(Exception):
    """`alpine follow` cannot go on; the message says why and what to do."""

    exit_code = 1


class HistoryChanged(FollowError):
    """Alpine's feed is of another epoch than the file (its history was restored)."""

    exit_code = 3


class CorruptSignal(FollowError):
    """A signal's fields do not hash to its verification_hash."""

    exit_code = 4


class BrokenRecord(FollowError):
    """An event's entry in Alpine's published record does not hold (--verify)."""

    exit_code = 5


class Refused(FollowError):
    """Alpine refused the token (401): revoked or mistyped."""

    exit_code = 2


@dataclass(slots=True)
class Holding:
    """What the file holds: counts per kind and the last position."""

    path: Path
    kinds: Counter[str] = field(default_factory=Counter)
    last_seq: int = 0
    first_prev: int | None = None  # prev_seq of the first line: 0 when held from the start
    cursor: str | None = None
    epoch: str | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (held up to, next prev_seq)
    last_hash: str | None = None  # the record entry hash of the last event, when it had one

    @property
    def events(self) -> int:
        return sum(self.kinds.values())

    def add(self, item: dict[str, Any]) -> None:
        if self.first_prev is None:
            self.first_prev = int(item["prev_seq"])
        elif int(item["prev_seq"]) != self.last_seq:
            self.gaps.append((self.last_seq, int(item["prev_seq"])))
        self.kinds[str(item["event"])] += 1
        self.last_seq = int(item["seq"])
        self.cursor = str(item["cursor"])
        self.epoch = str(item["epoch"])
        record = item.get("record")
        self.last_hash = str(record["hash"]) if isinstance(record, dict) else None

    def summary(self) -> str:
        """One line: how much is held and whether it has a gap."""
        if not self.events:
            return f"{self.path}: no events yet"
        kinds = ", ".join(f"{self.kinds[kind]} {kind}s" for kind in ("signal", *UPDATES))
        start = "from the feed's start" if self.first_prev == 0 else f"after {self.first_prev}"
        gaps = "no gap" if not self.gaps else f"{len(self.gaps)} gap(s): {self.gaps[:5]}"
        return (
            f"{self.path}: {kinds}; positions {start} to"
            f" {self.last_seq} of epoch {self.epoch}, {gaps}"
        )


def load(path: Path) -> Holding:
    """Read what `path` holds, cutting off a torn last line (a write cut by a kill)."""
    holding = Holding(path)
    if not path.exists():
        return holding
    good = 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.endswith(b"\n"):
                break
            try:
                holding.add(json.loads(line))
            except (ValueError, KeyError) as exc:
                raise FollowError(
                    f"{path}: line {holding.events + 1} is not an event: {exc}"
                ) from exc
            good += len(line)
    if good != path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(good)
    return holding


def check_signal(item: dict[str, Any]) -> None:
    """Raise CorruptSignal unless a signal event's fields hash to its verification_hash."""
    if item["event"] != "signal":
        return
    if verification_hash(item) != item["verification_hash"]:
        raise CorruptSignal(
            f"signal {item['signal_id']} at position {item['seq']} does not match its"
            " SHA-256: not written; report it to Alpine"
        )


class Follower:
    """Keeps `holding`'s file up to date with the feed of the token's tier."""

    def __init__(
        self,
        client: httpx.Client,
        holding: Holding,
        say: Callable[[str], None],
        stopping: Callable[[], bool] = lambda: False,
        record_keys: RecordKeys | None = None,
    ) -> None:
        """`client`: base_url and the Authorization header set; `say`: progress lines;
        `record_keys`: check every event's record entry with them before writing it."""
        self._client = client
        self.holding = holding
        self._record = (
            ChainCheck(record_keys, holding.last_seq, holding.last_hash)
            if record_keys is not None
            else None
        )
        self._say = say
        self._stopping = stopping
        self._out = holding.path.open("a", encoding="utf-8")

    def close(self) -> None:
        self._out.close()

    def catch_up(self) -> int:
        """Read pages after the last position held until caught up; events written."""
        written = 0
        while not self._stopping():
            body = self._get_json(
                PAGES_PATH, {"after": self.holding.cursor or "start", "limit": PAGE_LIMIT}
            )
            self._write(body["events"])
            written += len(body["events"])
            if body["caught_up"]:
                break
        if written:
            self._say(f"caught up: {written} events from pages, held to {self.holding.last_seq}")
        return written

    def follow(self, until: float | None = None) -> None:
        """Catch up, then follow the stream until `until` (monotonic) or stopped."""
        delay = RETRY_MIN_SECONDS
        while not self._stopping() and (until is None or time.monotonic() < until):
            try:
                self.catch_up()
                self._stream(until)
                delay = RETRY_MIN_SECONDS
            except (httpx.TransportError, _Unavailable) as exc:
                self._say(f"Alpine unreachable ({exc}); retrying in {delay:.1f} s")
                self._pause(delay, until)
                delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _stream(self, until: float | None) -> None:
        # `start` when nothing is held yet: the stream itself then starts at the beginning.
        headers = {"Accept": "text/event-stream", "Last-Event-ID": self.holding.cursor or "start"}
        with self._client.stream("GET", STREAM_PATH, headers=headers) as response:
            self._check(response)
            for item in _sse_events(response.iter_lines()):
                if self._stopping() or (until is not None and time.monotonic() >= until):
                    return
                if item is None:
                    continue  # a heartbeat
                if item["seq"] <= self.holding.last_seq:
                    continue  # already held (a stream opened without a cursor)
                if item["prev_seq"] != self.holding.last_seq:
                    self._say(
                        f"gap: event {item['seq']} follows {item['prev_seq']}, held to"
                        f" {self.holding.last_seq}; filling it from pages"
                    )
                    return  # the caller catches up from the pages, then streams again
                self._write([item])

    def _write(self, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        for item in items:
            check_signal(item)
            if self._record is not None:
                try:
                    self._record.check(item)
                except RecordBroken as exc:
                    raise BrokenRecord(f"{exc}: not written; report it to Alpine") from exc
        self._out.write("".join(json.dumps(i, separators=(",", ":")) + "\n" for i in items))
        self._out.flush()
        os.fsync(self._out.fileno())
        for item in items:
            self.holding.add(item)

    def _get_json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        response = self._client.get(path, params=params)
        self._check(response)
        body: dict[str, Any] = response.json()
        return body

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 200:
            return
        response.read()
        detail = _detail(response)
        if response.status_code == 401:
            raise Refused(f"Alpine refused the token: {detail}")
        if response.status_code == 409:
            raise HistoryChanged(
                f"{detail}. {self.holding.summary()}. Keep this file and follow into a new one"
                " (--out), then compare them"
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise _Unavailable(f"HTTP {response.status_code}: {detail}")
        raise FollowError(f"Alpine answered {response.status_code}: {detail}")

    def _pause(self, seconds: float, until: float | None) -> None:
        end = time.monotonic() + seconds
        if until is not None:
            end = min(end, until)
        while not self._stopping() and time.monotonic() < end:
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))


class _Unavailable(Exception):
    """A 5xx or 429: Alpine is there but cannot answer now; retried."""


def record_keys(client: httpx.Client, where: str) -> RecordKeys:
    """Alpine's public keys from `where`: a URL (fetched with `client`) or a file."""
    try:
        if where.startswith(("http://", "https://")):
            response = client.get(where)
            if response.status_code != 200:
                raise FollowError(f"{where}: HTTP {response.status_code}")
            document = response.json()
        else:
            document = json.loads(Path(where).read_text(encoding="utf-8"))
        return RecordKeys.from_document(document)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        raise FollowError(f"cannot read Alpine's keys from {where}: {exc}") from exc


def verify_file(path: Path, keys: RecordKeys) -> ChainCheck:
    """Check every event of a recording against Alpine's record, in order; FollowError
    naming the line and the entry at the first that does not hold."""
    check = ChainCheck(keys)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                break  # a torn last line: not an event yet
            try:
                item = json.loads(line)
                check.check(item)
                check_signal(item)
            except (ValueError, KeyError) as exc:
                raise FollowError(f"{path}: line {number} is not an event: {exc}") from exc
            except (RecordBroken, CorruptSignal) as exc:
                raise BrokenRecord(f"{path}: line {number}: {exc}") from exc
    return check


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]


def _sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any] | None]:
    """Feed items from SSE lines; None for a comment (heartbeat)."""
    data: list[str] = []
    for line in lines:
        if line.startswith(":"):
            yield None
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line == "" and data:
            yield json.loads("\n".join(data))
            data = []
        elif line == "":
            data = []
