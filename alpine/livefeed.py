"""One live feed per process: a single loop reads each new window of signals once per
tier and fans it out to every open stream of that tier.

The loop wakes on a NOTIFY (alpine/listener.py), at the moment a delayed tier's next
signal is due, or after `poll_seconds` (the fallback, and all there is on SQLite).
Each pass reads the horizon, then the window (last end, horizon] for each tier that
has subscribers, so database queries grow with passes, never with subscribers.
Windows are the ones of feed.py, so event ids stay exact resume positions.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import URL

from alpine.feed import HORIZON_MARGIN, Feed, FeedItem
from alpine.listener import NotifyListener
from alpine.tiers import Tier

log = logging.getLogger("alpine.livefeed")

WINDOW_LIMIT = 500
QUEUE_BATCHES = 256  # a stream this far behind is closed; it resumes with Last-Event-ID
RELEASE_SLACK = timedelta(milliseconds=15)  # past the horizon's own margin
# After a NOTIFY the row's received_at precedes the commit, which precedes the
# notification: one horizon margin later, the horizon is past it.
SETTLE_SECONDS = HORIZON_MARGIN.total_seconds() + 0.002
HELD_RETRY_SECONDS = 0.02  # an open transaction held the horizon back: look again soon


@dataclass(frozen=True, slots=True)
class Batch:
    """The events of one window for one tier, rendered once for all its streams."""

    start: datetime
    end: datetime
    text: str


@dataclass(eq=False)
class Subscription:
    tier: Tier
    position: datetime  # the feed's end when subscribed: later windows come by queue
    queue: asyncio.Queue[Batch] = field(default_factory=lambda: asyncio.Queue(QUEUE_BATCHES))
    overflowed: bool = False


HEARTBEAT = Batch(datetime.min, datetime.min, ": heartbeat\n\n")


def event_text(start: datetime, end: datetime, item: FeedItem) -> str:
    """One SSE `signal` event; its id is the window and the row: `start.end.id`."""
    return (
        f"id: {micros(start)}.{micros(end)}.{item.id}\n"
        f"event: signal\ndata: {json.dumps(item.body, separators=(',', ':'))}\n\n"
    )


def micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def read_window(
    feed: Feed, tier: Tier, start: datetime, end: datetime, after: int = 0
) -> list[FeedItem]:
    """Every row of the window (start, end] above `after`, page by page."""
    items: list[FeedItem] = []
    while True:
        page = feed.window(tier, start, end, after, WINDOW_LIMIT)
        items += page
        if len(page) < WINDOW_LIMIT:
            return items
        after = page[-1].id


class LiveFeed:
    """The process's shared feed; streams `subscribe` and read their queue."""

    def __init__(
        self,
        feed: Feed,
        tiers: Mapping[str, Tier],
        listen_url: URL | None,
        heartbeat_seconds: float,
        poll_seconds: float = 0.25,
        fallback_seconds: float = 1.0,
    ) -> None:
        """`listen_url`: the PostgreSQL database to LISTEN on; None polls (SQLite)."""
        self._feed = feed
        self._heartbeat = heartbeat_seconds
        self._tiers = dict(tiers)
        self._poll = poll_seconds  # without notifications
        self._fallback = fallback_seconds  # with them: only a safety net
        self._subs: dict[str, set[Subscription]] = {name: set() for name in tiers}
        self._end: datetime | None = None
        self._advanced = asyncio.Condition()
        self._wake = asyncio.Event()
        self._listener = NotifyListener(listen_url, self._wake) if listen_url else None
        self._tasks: list[asyncio.Task[None]] = []

    async def subscribe(self, tier: Tier, at_least: datetime | None = None) -> Subscription:
        """A queue of this tier's windows from the feed's current end, once that end is
        at least `at_least` (waited for at most a few seconds)."""
        self._start()
        async with self._advanced:
            await asyncio.wait_for(
                self._advanced.wait_for(
                    lambda: self._end is not None and (at_least is None or self._end >= at_least)
                ),
                timeout=5.0,
            )
            assert self._end is not None
            subscription = Subscription(tier, self._end)
            self._subs[tier.name].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subs[subscription.tier.name].discard(subscription)

    @property
    def subscribers(self) -> int:
        return sum(len(subs) for subs in self._subs.values())

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
        if self._end is None:
            end, _ = await run_in_threadpool(self._feed.horizon)
            async with self._advanced:
                self._end = end
                self._advanced.notify_all()
        while True:
            held = await self._pass()
            wait = HELD_RETRY_SECONDS if held else await run_in_threadpool(self._until_release)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
                await asyncio.sleep(SETTLE_SECONDS)  # also gathers a burst into one pass
            except TimeoutError:
                pass
            self._wake.clear()

    async def _pass(self) -> bool:
        """Publish the next window; True when an open transaction held the horizon back."""
        assert self._end is not None
        start = self._end
        end, held = await run_in_threadpool(self._feed.horizon)
        if end <= start:
            return held
        tiers = [self._tiers[name] for name, subs in self._subs.items() if subs]
        windows = await run_in_threadpool(
            lambda: {tier.name: read_window(self._feed, tier, start, end) for tier in tiers}
        )
        async with self._advanced:
            self._end = end
            for name, items in windows.items():
                if items:
                    self._publish(
                        name, Batch(start, end, "".join(event_text(start, end, i) for i in items))
                    )
            self._advanced.notify_all()
        return held

    def _publish(self, tier_name: str, batch: Batch) -> None:
        for subscription in list(self._subs[tier_name]):
            try:
                subscription.queue.put_nowait(batch)
            except asyncio.QueueFull:
                subscription.overflowed = True
                self._subs[tier_name].discard(subscription)

    def _until_release(self) -> float:
        """Seconds to sleep: until a delayed tier's next signal is due, or the poll."""
        listening = self._listener is not None and self._listener.connected
        wait = self._fallback if listening else self._poll
        assert self._end is not None
        for name, subs in self._subs.items():
            tier = self._tiers[name]
            if subs and tier.delay > timedelta(0):
                due = self._feed.next_release(tier, self._end)
                if due is not None:
                    wait = min(wait, (due - self._end + RELEASE_SLACK).total_seconds())
        return max(wait, 0.0)
