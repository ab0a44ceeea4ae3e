"""One live feed per process: a single loop reads each tier's new events once and fans
them out to every open stream of that tier.

The loop wakes on a NOTIFY (alpine/listener.py), at the moment a delayed tier's next
signal is due, or after `poll_seconds` (the fallback, and all there is on SQLite).
Each pass reads the feed's head, then for each tier with streams the events between
the tier's position and its frontier (alpine/feed.py). Database queries grow with
passes and tiers, never with streams.

A tier's position only moves, under the lock, together with the publication of the
events it passed; a stream joins under the same lock at that position, so every
event after it is delivered to the stream. Streams drop any event at or below the
last one they wrote, so a catch-up and what is delivered may overlap but never repeat.

Delivery is a plain call (`Stream.deliver`, alpine/sse.py): an idle stream has no
queue and no task of its own to wake; the stream writes the batch at once or keeps it
in order behind a write that has to wait. One that falls QUEUE_BATCHES batches behind
answers False and is dropped here; it closes, and its subscriber resumes with
Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import URL

from alpine.feed import Feed, FeedEvent
from alpine.listener import NotifyListener
from alpine.spans import OFF, Kind, Tracing
from alpine.tiers import Tier

log = logging.getLogger("alpine.livefeed")

WINDOW_LIMIT = 500
QUEUE_BATCHES = 256  # a stream this far behind is closed; it resumes with Last-Event-ID
RELEASE_SLACK = timedelta(milliseconds=5)  # wake just after a delayed signal is due
FREEZE_EVERY = 500  # new streams; then what lives is exempt from garbage collection


@dataclass(frozen=True, slots=True)
class Batch:
    """Events of one pass for one tier, each rendered once for all its streams."""

    events: tuple[tuple[int, str], ...]  # (seq, SSE text)
    links: tuple[str, ...] = field(default=(), compare=False)  # their ingest spans (tracing)
    data: bytes = field(init=False, repr=False, compare=False)  # all of them, UTF-8

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", "".join(t for _, t in self.events).encode())

    def data_after(self, seq: int) -> bytes:
        """The events past position `seq`, encoded; all but a stream that caught up share
        `data`."""
        if not self.events or self.events[0][0] > seq:
            return self.data
        return "".join(text for position, text in self.events if position > seq).encode()


HEARTBEAT_TEXT = ": heartbeat\n\n"
HEARTBEAT = Batch(((0, HEARTBEAT_TEXT),))


@dataclass(slots=True)
class TierPosition:
    """How far a tier has been published: every event up to `seq`; the last of its own
    events among them is `last_event` (the `prev_seq` of the next)."""

    seq: int
    last_event: int


class Stream(Protocol):
    """A stream as the feed sees it (alpine/sse.py): hashable by identity."""

    def deliver(self, batch: Batch) -> bool:
        """Take the tier's next batch (or HEARTBEAT), in order, without waiting; False
        once the stream is QUEUE_BATCHES batches behind, or closed: it gets no more."""
        ...


def event_text(
    event: FeedEvent, prev_seq: int, epoch: str, record: dict[str, Any] | None = None
) -> str:
    """One SSE event: its id is the event's cursor, its type the event's kind."""
    item = event.item(prev_seq, epoch, record)
    return (
        f"id: {item['cursor']}\n"
        f"event: {event.kind}\ndata: {json.dumps(item, separators=(',', ':'))}\n\n"
    )


def pages(feed: Feed, tier: Tier, after: int, until: int) -> Iterator[list[FeedEvent]]:
    """The tier's events in (after, until], a page (at most WINDOW_LIMIT) at a time."""
    while after < until:
        page = feed.window(tier, after, until, WINDOW_LIMIT)
        if page:
            yield page
        if len(page) < WINDOW_LIMIT:
            return
        after = page[-1].seq


def read_events(feed: Feed, tier: Tier, after: int, until: int) -> list[FeedEvent]:
    """Every event of the tier in (after, until]."""
    return [event for page in pages(feed, tier, after, until) for event in page]


class LiveFeed:
    """The process's shared feed; streams `subscribe` and are delivered each batch."""

    def __init__(
        self,
        feed: Feed,
        tiers: Mapping[str, Tier],
        listen_url: URL | None,
        heartbeat_seconds: float,
        poll_seconds: float = 0.25,
        fallback_seconds: float = 1.0,
        tracing: Tracing = OFF,
    ) -> None:
        """`listen_url`: the PostgreSQL database to LISTEN on; None polls (SQLite).
        `tracing` on: each batch a tier's streams are handed is a span linked to the
        ingest span of each signal in it."""
        self._tracing = tracing
        self._feed = feed
        self._heartbeat = heartbeat_seconds
        self._tiers = dict(tiers)
        self._poll = poll_seconds  # without notifications
        self._fallback = fallback_seconds  # with them: only a safety net
        self._subs: dict[str, set[Stream]] = {name: set() for name in tiers}
        self._positions: dict[str, TierPosition] = {}
        self._due: dict[str, datetime] = {}  # delayed tiers: when their next signal is due
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._listener = NotifyListener(listen_url, self._wake) if listen_url else None
        self._tasks: list[asyncio.Task[None]] = []
        self._joined = 0  # streams since the last gc.freeze()

    async def subscribe(self, tier: Tier, stream: Stream) -> int:
        """Deliver `stream` the tier's events after its current position, which is
        returned."""
        self._start()
        while True:
            fresh = None
            if tier.name not in self._positions:
                fresh = await run_in_threadpool(self._fresh_position, tier)
                self._wake.set()  # a pass soon, which also learns when its signals are due
            async with self._lock:
                position = self._positions.get(tier.name) or fresh
                if position is None:
                    continue  # dropped while we looked: nobody followed the tier
                self._positions[tier.name] = position
                self._subs[tier.name].add(stream)
                self._joined += 1
                if self._joined >= FREEZE_EVERY:
                    self._freeze()
                return position.seq

    def unsubscribe(self, tier: Tier, stream: Stream) -> None:
        self._subs[tier.name].discard(stream)

    def _freeze(self) -> None:
        """Exempt what lives now (open streams are ~80 objects each) from garbage
        collection, as alpine/app.py freeze_startup does at startup: a full collection
        otherwise scans every open stream's objects and pauses them all (~270 ms at
        10,000 streams, several times while they open). A closed stream's objects are
        freed by reference counting all the same (they hold no cycles)."""
        self._joined = 0
        gc.freeze()

    @property
    def subscribers(self) -> int:
        return sum(len(subs) for subs in self._subs.values())

    def _fresh_position(self, tier: Tier) -> TierPosition:
        """Where a tier nobody follows yet starts: its frontier now."""
        with self._feed.pinned():
            frontier = self._feed.frontier(tier, self._feed.head(), datetime.now(UTC))
            return TierPosition(frontier, self._feed.previous(tier, frontier))

    def _start(self) -> None:
        if self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._run()))
        self._tasks.append(loop.create_task(self._beat()))
        if self._listener is not None:
            self._tasks.append(loop.create_task(self._listener.run()))

    async def _beat(self) -> None:
        """One timer for every stream: a `: heartbeat` comment keeps idle ones open."""
        while True:
            await asyncio.sleep(self._heartbeat)
            for name in self._subs:
                self._publish(name, HEARTBEAT)

    async def _run(self) -> None:
        while True:
            try:
                await self._loop()
            except Exception:  # the database is away, say: streams stay open, retry
                log.exception("live feed pass failed", extra={"event": "live_feed_error"})
                await asyncio.sleep(self._poll)

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            await self._pass()
            wait = self._until_release()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except TimeoutError:
                pass

    async def _pass(self) -> None:
        """Publish each followed tier's events up to its frontier."""
        reading = {
            name: position
            for name, position in self._positions.items()
            if self._subs[name] and name in self._tiers
        }
        if reading:
            published = await run_in_threadpool(self._read, reading)
        else:
            published = {}
        async with self._lock:
            for name, (position, batch) in published.items():
                self._positions[name] = position
                if batch.events:
                    self._publish(name, batch)
            for name in [n for n in self._positions if not self._subs[n] and n not in reading]:
                del self._positions[name]  # nobody follows it: a newcomer starts afresh

    def _read(self, reading: Mapping[str, TierPosition]) -> dict[str, tuple[TierPosition, Batch]]:
        with self._feed.pinned():  # one connection for the whole pass
            head, now = self._feed.head(), datetime.now(UTC)
            epoch = self._feed.epoch()
            published: dict[str, tuple[TierPosition, Batch]] = {}
            due: dict[str, datetime] = {}
            for name, position in reading.items():
                tier = self._tiers[name]
                until, next_due = self._feed.release(tier, head, now)
                if next_due is not None:
                    due[name] = next_due
                if until <= position.seq:
                    continue
                events = self._feed.linked(
                    read_events(self._feed, tier, position.seq, until), position.last_event
                )
                last = events[-1][0].seq if events else position.last_event
                links = tuple(e.trace for e, _, _ in events if e.trace) if self._tracing.on else ()
                batch = Batch(
                    tuple((e.seq, event_text(e, prev, epoch, rec)) for e, prev, rec in events),
                    links,
                )
                published[name] = (TierPosition(until, last), batch)
        self._due = due
        return published

    def _publish(self, tier_name: str, batch: Batch) -> None:
        if batch.links:
            self._publish_traced(tier_name, batch)
            return
        subs = self._subs[tier_name]
        dropped = [s for s in list(subs) if not s.deliver(batch)]
        subs.difference_update(dropped)

    def _publish_traced(self, tier_name: str, batch: Batch) -> None:
        """`_publish` inside a span linked to the ingest span of each signal in `batch`."""
        subs = self._subs[tier_name]
        span = self._tracing.start(
            "alpine stream deliver",
            kind=Kind.PRODUCER,
            links=batch.links,
            attributes={
                "alpine.tier": tier_name,
                "alpine.events": len(batch.events),
                "alpine.streams": len(subs),
            },
        )
        dropped = [s for s in list(subs) if not s.deliver(batch)]
        subs.difference_update(dropped)
        span.set("alpine.streams_dropped", len(dropped))
        span.end()

    def _until_release(self) -> float:
        """Seconds to sleep: until a delayed tier's next signal is due, or the poll."""
        listening = self._listener is not None and self._listener.connected
        wait = self._fallback if listening else self._poll
        now = datetime.now(UTC)
        for due in self._due.values():
            wait = min(wait, (due - now + RELEASE_SLACK).total_seconds())
        return max(wait, 0.0)
